"""The notification record, each user's feed of them, preferences and deliveries."""

import uuid

from django.conf import settings
from django.db import models

from notifications.catalogue import BY_KEY, Channel, Severity


class Source(models.TextChoices):
    RACK = "rack", "Sent by the rack to the ingest URL"
    CONSOLE = "console", "Caused by an action in the console"


# As long as a username (django.contrib.auth's 150).
ACTOR_MAX_LENGTH = 150


class Notification(models.Model):
    # No index of its own: notification_rack_idx and notification_once_per_event lead
    # with it.
    rack = models.ForeignKey("racks.Rack", on_delete=models.CASCADE,
                             related_name="notifications", db_index=False)
    # The app's name as the event gave it: the notification outlives the app.
    app = models.CharField(max_length=100, blank=True, default="")
    action = models.CharField(max_length=100)
    status = models.CharField(max_length=20)
    event_type = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    data = models.JSONField(default=dict)
    message = models.TextField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.RACK)
    # Who caused it: the console user who acted, or a v3 rack's `data.actor`; "" when
    # nobody is named (v2 racks, the console's own checks).
    actor = models.CharField(max_length=ACTOR_MAX_LENGTH, blank=True, default="")
    dedupe_key = models.CharField(max_length=80)
    # A signed request's identity (racks.intake.signature.signed_identity), "" when unsigned: a
    # second dedupe key, so that a replay with a new Idempotency-Key is still this event.
    signature_key = models.CharField(max_length=80, blank=True, default="")
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        constraints = [
            # The same event, retried by a rack or sent twice, is stored once.
            models.UniqueConstraint(fields=["rack", "dedupe_key"],
                                    name="notification_once_per_event"),
            # A signed request replayed (same t and body, any Idempotency-Key) is the
            # same event. Partial: unsigned events have no signature to compare.
            models.UniqueConstraint(fields=["rack", "signature_key"],
                                    condition=~models.Q(signature_key=""),
                                    name="notification_once_per_signature"),
        ]
        indexes = [
            # A rack's or an app's own timeline, newest first.
            models.Index(fields=["rack", "app", "-id"], name="notification_rack_app_idx"),
            # A rack's notifications newest first: the feed filtered by rack walks it and
            # looks each one up in the user's feed (feed_entry_once_per_user).
            models.Index(fields=["rack", "-id"], name="notification_rack_idx"),
            # Retention (notifications.retention): the oldest notifications first.
            models.Index(fields=["created_at"], name="notification_age_idx"),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def meaning(self) -> str:
        """What the event type means, as every channel says it: the seed's text names a
        build as "<id>", which becomes this event's own id when it has one."""
        meaning = BY_KEY[self.event_type].meaning
        return meaning.replace("<id>", self.object_id) if self.object_id else meaning

    @property
    def object_id(self) -> str:
        """The build or release id the event names, if any."""
        found = self.data.get("id", "") if isinstance(self.data, dict) else ""
        return found if isinstance(found, str) else ""  # rack data: any JSON


class FeedEntry(models.Model):
    """One notification in one user's feed, with that user's read state.

    Written in the notification's transaction for every member whose in-app preference
    lets it through, so a feed page and an unread count are single-index reads.
    """

    # The user key is not checked by the database: an organization of 1,000 writes 1,000
    # entries per event, and checking each one's user costs the event ~4.5 ms and a lock
    # on 1,000 user rows, before the live push can start. Only the pipeline writes
    # entries, for members it has just read; Django deletes a user's entries with them.
    # No index of its own: feed_entry_once_per_user (user, notification) leads with it.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="feed", db_index=False, db_constraint=False)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE,
                                     related_name="feed_entries")
    # No rack column: the feed filtered by rack joins the notification
    # (notification_rack_idx). An index here that leads with the user is written at
    # 1,000 places per event; one on the notification, at one.
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Also the feed's index: a user's entries newest first are this index read
            # backwards, paged by notification id. (Every index here is written for each
            # member on every event: an organization of 1,000 writes 1,000 entries.)
            models.UniqueConstraint(fields=["user", "notification"],
                                    name="feed_entry_once_per_user"),
        ]
        indexes = [
            # The unread badge: count of a user's unread entries.
            models.Index(fields=["user"], condition=models.Q(read=False),
                         name="feed_user_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.notification_id}"


# -- Preferences and delivery ---------------------------------------------------------------

ANY_EVENT_TYPE = "*"


class Preference(models.Model):
    """One rule of a user's: the channels they want for an event type (or "*" for all).

    A rule applies everywhere, on one rack, or to one app of a rack. For a notification
    the most specific rule wins: app over rack over everywhere, then a named event type
    over "*"; with no rule the catalogue's defaults apply (see notifications.preferences).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_preferences")
    event_type = models.CharField(max_length=40)
    rack = models.ForeignKey("racks.Rack", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    # The app's name on `rack` (notifications name apps, and outlive them).
    app = models.CharField(max_length=100, blank=True, default="")
    channels = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One rule per event type and place (two partial constraints, because NULL
            # racks are distinct in a plain one, and SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint(fields=["user", "event_type"],
                                    condition=models.Q(rack__isnull=True),
                                    name="preference_once_everywhere"),
            models.UniqueConstraint(fields=["user", "event_type", "rack", "app"],
                                    condition=models.Q(rack__isnull=False),
                                    name="preference_once_per_place"),
            models.CheckConstraint(condition=models.Q(app="") | models.Q(rack__isnull=False),
                                   name="preference_app_has_rack"),
        ]
        indexes = [
            # members_channels_wanted: the rules of an organization's members for one event
            # type and "*" (user_id IN members, event_type IN ...), in the ingest transaction.
            models.Index(fields=["user", "event_type"], name="preference_lookup_idx"),
        ]

    def __str__(self) -> str:
        where = f"{self.rack_id}/{self.app}" if self.app else (self.rack_id or "everywhere")
        return f"{self.user_id} {self.event_type} @ {where}: {self.channels}"


class DigestWindow(models.IntegerChoices):
    IMMEDIATE = 0, "Each email as it happens"
    QUARTER_HOUR = 15, "One email every 15 minutes"
    HOUR = 60, "One email an hour"
    DAY = 1440, "One email a day"


class EmailDigest(models.Model):
    """A user's choice to receive their notification emails batched into one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="email_digest")
    window_minutes = models.PositiveIntegerField(choices=DigestWindow.choices,
                                                 default=DigestWindow.IMMEDIATE)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.window_minutes} min"


class WebhookFormat(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"
    DISCORD = "discord", "Discord webhook"


class WebhookEndpoint(models.Model):
    """A URL of a user's that receives their notifications.

    The signing secrets are stored encrypted (notifications.delivery.signing); during a
    rotation the previous secret keeps signing too until `previous_secret_until`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Catalogue keys, or ["*"] for every event type the preferences send to webhooks.
    events = models.JSONField(default=list)
    format = models.CharField(max_length=10, choices=WebhookFormat.choices,
                              default=WebhookFormat.STANDARD)
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    # The first failure since the last success; a long run of failures disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # address_notification: the enabled endpoints of the members who want webhooks.
            models.Index(fields=["user"], condition=models.Q(enabled=True),
                         name="webhook_enabled_user_idx"),
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return ANY_EVENT_TYPE in self.events or event_type in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    BATCHED = "batched", "Waiting for the email digest"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Delivery(models.Model):
    """One notification on its way to one person by email or to one webhook endpoint.

    Written in the notification's transaction, so nothing stored is ever left unsent; a
    Celery task sends it, and the sweeper re-queues any whose task was lost. While
    SENDING, `next_attempt_at` is the end of the sender's lease; while BATCHED, it is None
    unless a digest failed, and then it is when the digest is tried again.
    """

    # None for a webhook's test event.
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, null=True,
                                     blank=True, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, null=True,
                                 blank=True, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    # Every attempt of this delivery carries it, so a receiver can drop repeats.
    webhook_id = models.CharField(max_length=40, default=new_webhook_id, unique=True)
    # Every attempt made, as the delivery log lists them: sending it again by hand
    # (redeliver, recover) does not reset it.
    attempts = models.PositiveIntegerField(default=0)
    # `attempts` when it was last sent again by hand: the retry schedule starts over
    # from there (see attempts_since_resend), so the count shown can stay whole.
    attempts_before_resend = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The sweeper: pending or sending deliveries that are due (or whose lease ran
            # out) and were not touched recently.
            models.Index(fields=["next_attempt_at"],
                         condition=models.Q(status__in=["pending", "sending"]),
                         name="delivery_due_idx"),
            # An endpoint's delivery log, newest first.
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_log_idx"),
            # Recover: an endpoint's failed deliveries since a time.
            models.Index(fields=["endpoint", "created_at"],
                         condition=models.Q(status="failed"), name="delivery_failed_idx"),
            # The digest: each user's batched emails, oldest first. A failed digest's rows
            # keep its next try in next_attempt_at, but being BATCHED they are not in
            # delivery_due_idx: neither the claim nor the sweeper takes them.
            models.Index(fields=["user", "created_at"], condition=models.Q(status="batched"),
                         name="delivery_batched_idx"),
            # Retention (notifications.retention): finished deliveries, oldest first.
            models.Index(fields=["created_at"],
                         condition=models.Q(status__in=["delivered", "failed"]),
                         name="delivery_finished_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.webhook_id} ({self.status})"

    @property
    def attempts_since_resend(self) -> int:
        """The attempts the retry schedule counts: those since it was last sent again."""
        return self.attempts - self.attempts_before_resend


class DeliveryAttempt(models.Model):
    """What happened when one delivery was tried once: the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    # A webhook's bodies, each cut to its first 4 KiB, with any signing secret blanked
    # out (senders.body_for_log); the headers, which carry the signature, are not kept.
    # Empty for an email, and for a webhook whose request never left or got no answer.
    request_body = models.TextField(blank=True, default="")
    response_body = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # A delivery's attempts, newest first.
            models.Index(fields=["delivery", "-id"], name="attempt_delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.started_at}: {self.status_code or self.error}"
