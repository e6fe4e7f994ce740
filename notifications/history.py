"""A rack's and an app's history: every notification of it, for every member of its
organization whatever their join date, with the member's read state where the
notification is in their feed.

The feed (`notifications.feed`, the dashboard and `/api/v1/notifications/`) is each
member's own, written when a notification is addressed, per their preferences: someone
who joined later, or who turned an event type off, has no entry for it. The rack and app
pages read this history instead, so they show what happened whoever looks.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery

from notifications.items import ITEM_COLUMNS, item_from_row
from notifications.models import FeedEntry, Notification
from racks.models import Rack

# Rows of `history(...).values(*HISTORY_COLUMNS)` make items with `history_item`.
HISTORY_COLUMNS = (*ITEM_COLUMNS, "read_state")


def history(rack: Rack, user: AbstractBaseUser, app: str | None = None) -> QuerySet[Notification]:
    """The rack's notifications (only the app's, when named), each annotated with
    `read_state`: the user's read flag, or None when it is not in their feed.

    Newest first is `order_by("-id")`: notification_rack_idx (rack, -id) for a rack,
    notification_rack_app_idx (rack, app, -id) for an app; the read state is one probe
    per row of feed_entry_once_per_user (user, notification).
    """
    entry = FeedEntry.objects.filter(user=user, notification=OuterRef("pk"))
    rows = Notification.objects.filter(rack=rack)
    if app is not None:
        rows = rows.filter(app=app)
    return rows.annotate(read_state=Subquery(entry.values("read")[:1]))


def is_read(read_state: bool | None) -> bool:
    """A notification outside the user's feed waits for nobody: it reads as read."""
    return True if read_state is None else read_state


def history_item(row: dict[str, Any]) -> dict[str, Any]:
    """The feed item of a HISTORY_COLUMNS row, with `in_feed`: whether the user can mark
    it read or unread (it is in their feed)."""
    item = item_from_row(row, read=is_read(row["read_state"]))
    item["in_feed"] = row["read_state"] is not None
    return item
