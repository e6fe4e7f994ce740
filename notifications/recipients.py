"""Who hears of a notification, and how: decided once, in the notification's transaction."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from notifications.catalogue import Channel
from notifications.models import (
    Delivery,
    DeliveryStatus,
    FeedEntry,
    Notification,
    WebhookEndpoint,
)
from notifications.preferences import channels_wanted


def _digest_minutes(user) -> int:
    try:
        return user.email_digest.window_minutes
    except ObjectDoesNotExist:
        return 0


def address_notification(notification: Notification) -> None:
    """Put the notification in the feeds, and write its email and webhook deliveries.

    Call inside the notification's transaction: a delivery is stored exactly when its
    notification is, and the outbox sends it after the commit (pipeline.py).
    """
    User = get_user_model()
    members = list(User.objects.filter(
        memberships__organization_id=notification.rack.organization_id, is_active=True,
    ).select_related("email_digest"))
    wanted = channels_wanted(members, notification)
    FeedEntry.objects.bulk_create(
        FeedEntry(user=user, notification=notification, rack_id=notification.rack_id)
        for user in members
        if Channel.IN_APP in wanted[user.pk]
    )
    now = timezone.now()
    deliveries = []
    for user in members:
        if Channel.EMAIL in wanted[user.pk] and user.email:
            batched = _digest_minutes(user) > 0
            deliveries.append(Delivery(
                notification=notification, user=user, channel=Channel.EMAIL,
                status=DeliveryStatus.BATCHED if batched else DeliveryStatus.PENDING,
                next_attempt_at=None if batched else now,
            ))
    hooked = [user.pk for user in members if Channel.WEBHOOK in wanted[user.pk]]
    if hooked:
        endpoints = WebhookEndpoint.objects.filter(user_id__in=hooked, enabled=True).only(
            "id", "user_id", "events")
        deliveries.extend(
            Delivery(notification=notification, user_id=endpoint.user_id,
                     channel=Channel.WEBHOOK, endpoint=endpoint, next_attempt_at=now)
            for endpoint in endpoints if endpoint.wants(notification.event_type)
        )
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
