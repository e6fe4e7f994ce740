"""An open socket's unread badge between exact counts (notifications.unread)."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from notifications.models import FeedEntry
from notifications.unread import Badge, unread_count, unread_state
from racks.local import LocalRack


def apps_created(rack, *names: str) -> list[int]:
    """Notifications in every member's feed, unread; their ids."""
    return [LocalRack().create_app(rack, name) and
            FeedEntry.objects.filter(notification__app=name).values_list(
                "notification_id", flat=True).first() for name in names]


def test_an_exact_count_lists_the_recent_notifications_it_includes(member, rack):
    old, recent, seen = apps_created(rack, "old", "recent", "seen")
    FeedEntry.objects.filter(notification_id=old).update(
        created_at=timezone.now() - timedelta(hours=1))
    FeedEntry.objects.filter(user=member, notification_id=seen).update(read=True)
    state = unread_state(member.pk)
    assert state.count == unread_count(member.pk) == 2
    assert sorted(state.counted) == sorted([recent, seen])


def test_a_push_of_a_notification_the_count_included_adds_nothing_and_a_new_one_adds_one(
        member, rack):
    (first,) = apps_created(rack, "first")
    badge = Badge(unread_state(member.pk))
    assert badge.count == 1
    assert badge.add(first) == 1  # committed before the count, pushed after it
    (second,) = apps_created(rack, "second")
    assert badge.add(second) == 2


def test_a_notification_committed_while_the_count_is_taken_is_counted_once(member, rack):
    """Between the list of recent notifications and the count: in neither, so its push
    adds it."""
    apps_created(rack, "before")
    committed: list[int] = []

    def commit_one_before_the_count(execute, sql, params, many, context):
        if "COUNT(" in sql.upper() and not committed:
            committed.append(-1)  # the creation below runs queries of its own
            committed[0] = apps_created(rack, "meanwhile")[0]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(commit_one_before_the_count):
        state = unread_state(member.pk)
    badge = Badge(state)
    assert badge.add(committed[0]) == unread_count(member.pk) == 2
