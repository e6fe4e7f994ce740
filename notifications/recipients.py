"""Who hears of a notification, and how: decided once, in the notification's transaction."""

from django.contrib.auth import get_user_model

from notifications.catalogue import Channel
from notifications.models import FeedEntry, Notification
from notifications.preferences import channels_wanted


def address_notification(notification: Notification) -> None:
    """Put the notification in the feed of every member who wants it in the console.

    Call inside the notification's transaction.
    """
    User = get_user_model()
    members = list(User.objects.filter(
        memberships__organization_id=notification.rack.organization_id, is_active=True))
    wanted = channels_wanted(members, notification)
    FeedEntry.objects.bulk_create(
        FeedEntry(user=user, notification=notification, rack_id=notification.rack_id)
        for user in members
        if Channel.IN_APP in wanted[user.pk]
    )
