"""Each user's read state of their feed: every change goes through these functions.

A change tells the user's open browsers their new unread count once it commits
(notifications.unread).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from notifications.catalogue import Channel
from notifications.items import ITEM_COLUMNS, item_from_row
from notifications.models import FeedEntry, Notification
from notifications.preferences import channels_wanted_by
from notifications.unread import tell_browsers


def _tell_browsers(user_id: int) -> None:
    transaction.on_commit(lambda: tell_browsers(user_id))


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


_CHUNK = 5000


def undo_max() -> int:
    """A mark-all-read of at most this many entries can be undone: its answer lists them."""
    return settings.MARK_ALL_READ_UNDO_MAX


def mark_read_among(user_id: int, entries: QuerySet[FeedEntry]) -> list[int]:
    """The user has seen what their page shows: mark read the user's unread entries among
    `entries` (the whole feed, or a rack's, or those its filters match). Answers the ids of
    the notifications it marked, so that the mark can be undone (`mark_unread_among`).
    """
    ids = list(entries.filter(user_id=user_id, read=False)
               .values_list("notification_id", flat=True))
    for start in range(0, len(ids), _CHUNK):
        FeedEntry.objects.filter(user_id=user_id, read=False,
                                 notification_id__in=ids[start:start + _CHUNK]).update(read=True)
    if ids:
        _tell_browsers(user_id)
    return ids


def mark_unread_among(user_id: int, notification_ids: list[int]) -> int:
    """Undo a mark-all-read: these notifications of the user's feed are unread again.
    Answers how many entries changed."""
    changed = FeedEntry.objects.filter(user_id=user_id, read=True,
                                       notification_id__in=notification_ids[:undo_max()]
                                       ).update(read=False)
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


HISTORY_DAYS = 30
HISTORY_MAX = 1000


def give_history(user_id: int, organization_id: int) -> int:
    """A new member's feed starts with the organization's recent past, already read.

    The organization's notifications of the last HISTORY_DAYS days (the newest
    HISTORY_MAX of them) that the member's in-app preference lets through, as if they
    had been a member all along. Answers how many entries were written.
    """
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    recent = list(Notification.objects
                  .filter(rack__organization_id=organization_id, created_at__gte=since)
                  .order_by("-id")[:HISTORY_MAX])
    # The preference rule is asked once per kind of notification (event type, rack, app):
    # a month of one organization has a few dozen kinds, not a thousand.
    kinds: dict[tuple[str, int, str], bool] = {}
    wanted = []
    for notification in recent:
        kind = (notification.event_type, notification.rack_id, notification.app)
        if kind not in kinds:
            channels = channels_wanted_by(user_id, notification)
            kinds[kind] = Channel.IN_APP.value in channels
        if kinds[kind]:
            wanted.append(notification)
    created = FeedEntry.objects.bulk_create(
        [FeedEntry(user_id=user_id, notification=notification, read=True)
         for notification in wanted],
        ignore_conflicts=True)  # an event addressed to them while they were joining
    return len(created)
