"""The notification record and each user's feed of them."""

from django.conf import settings
from django.db import models

from notifications.catalogue import BY_KEY, Severity


class Source(models.TextChoices):
    RACK = "rack", "Sent by the rack to the ingest URL"
    CONSOLE = "console", "Caused by an action in the console"


class Notification(models.Model):
    rack = models.ForeignKey("racks.Rack", on_delete=models.CASCADE,
                             related_name="notifications")
    # The app's name as the event gave it: the notification outlives the app.
    app = models.CharField(max_length=100, blank=True, default="")
    action = models.CharField(max_length=100)
    status = models.CharField(max_length=20)
    event_type = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    data = models.JSONField(default=dict)
    message = models.TextField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.RACK)
    dedupe_key = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        constraints = [
            # The same event, retried by a rack or sent twice, is stored once.
            models.UniqueConstraint(fields=["rack", "dedupe_key"],
                                    name="notification_once_per_event"),
        ]
        indexes = [
            # A rack's or an app's own timeline, newest first.
            models.Index(fields=["rack", "app", "-id"], name="notification_rack_app_idx"),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def meaning(self) -> str:
        return BY_KEY[self.event_type].meaning

    @property
    def object_id(self) -> str:
        """The build or release id the event names, if any."""
        return self.data.get("id", "") if isinstance(self.data, dict) else ""


class FeedEntry(models.Model):
    """One notification in one user's feed, with that user's read state.

    Written in the notification's transaction for every member whose in-app preference
    lets it through, so a feed page and an unread count are single-index reads.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="feed")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE,
                                     related_name="feed_entries")
    # Copied from the notification so that a rack filter and a member's removal stay on
    # this table's index.
    rack = models.ForeignKey("racks.Rack", on_delete=models.CASCADE, related_name="+")
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "notification"],
                                    name="feed_entry_once_per_user"),
        ]
        indexes = [
            # The feed: a user's entries newest first, paged by notification id.
            models.Index(fields=["user", "-notification"], name="feed_user_recent_idx"),
            # The unread badge: count of a user's unread entries.
            models.Index(fields=["user"], condition=models.Q(read=False),
                         name="feed_user_unread_idx"),
            # The feed filtered by rack.
            models.Index(fields=["user", "rack", "-notification"], name="feed_user_rack_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.notification_id}"
