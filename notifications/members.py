"""What joining or leaving an organization means for a member's feed and open sockets.

The one place racks.membership and racks.invitations reach into notifications for it.
"""

from django.db import transaction

from notifications.feed import give_history
from notifications.live.push import disconnect_user
from notifications.models import FeedEntry


def member_joined(user_id: int, organization_id: int) -> None:
    """The new member's feed starts with the organization's recent past, and their open
    sockets reconnect to take in the organization (after the commit)."""
    give_history(user_id, organization_id)
    transaction.on_commit(lambda: disconnect_user(user_id))


def member_left(user_id: int, organization_id: int) -> None:
    """The former member's feed loses the organization's notifications, and their open
    sockets reconnect without it (after the commit)."""
    FeedEntry.objects.filter(user_id=user_id,
                             notification__rack__organization_id=organization_id).delete()
    transaction.on_commit(lambda: disconnect_user(user_id))
