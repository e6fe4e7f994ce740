"""Each user's read state of their feed: every change goes through these functions.

A change tells the user's open browsers their new unread count once it commits.
"""

from typing import Any

from django.db import transaction

from notifications.items import ITEM_COLUMNS, item_from_row
from notifications.live import broadcast_unread_count
from notifications.live import unread_count as unread_count  # the badge, counted in one place
from notifications.models import FeedEntry, Notification


def _tell_browsers(user_id: int) -> None:
    transaction.on_commit(lambda: broadcast_unread_count(user_id))


def mark_read(entry: FeedEntry) -> None:
    """The user has seen this notification."""
    if FeedEntry.objects.filter(pk=entry.pk, read=False).update(read=True):
        _tell_browsers(entry.user_id)
    entry.read = True


def mark_unread(entry: FeedEntry) -> None:
    """The user wants this notification back among the unread ones."""
    if FeedEntry.objects.filter(pk=entry.pk, read=True).update(read=False):
        _tell_browsers(entry.user_id)
    entry.read = False


def mark_all_read(user_id: int) -> int:
    """Everything in the user's feed is read; answers how many entries changed."""
    changed = FeedEntry.objects.filter(user_id=user_id, read=False).update(read=True)
    if changed:
        _tell_browsers(user_id)
    return changed


def page_items(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of one feed page, from its entries ({"notification_id", "read"} rows).

    The page itself is found on the feed's own index (feed_entry_once_per_user) without a
    join, so the plan does not depend on how the planner guesses the user's share of all
    notifications; its notifications are then read by primary key.
    """
    ids = [entry["notification_id"] for entry in entries]
    rows = {row["id"]: row for row in
            Notification.objects.filter(pk__in=ids).values(*ITEM_COLUMNS)}
    return [item_from_row(rows[entry["notification_id"]], read=entry["read"])
            for entry in entries if entry["notification_id"] in rows]
