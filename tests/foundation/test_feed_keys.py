"""A feed entry always has its notification: the database refuses one without it, and the
migration that restored the key deleted the entries left without theirs and can be undone.
On PostgreSQL, and again on SQLite (the embedded default) in a subprocess."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from notifications.envelope import Envelope
from notifications.models import FeedEntry, Notification
from notifications.pipeline import record_event
from tests.helpers import run_again_on_sqlite

BEFORE = ("notifications", "0009_attempt_bodies")
CHECKED = ("notifications", "0010_feed_notification_key_checked")
NO_SUCH_NOTIFICATION = 2_000_000_000


def migrate_to(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def put_orphan_in_feed(user_id: int) -> None:
    """What only a database without the key lets happen: an entry of no notification."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FeedEntry._meta.db_table} "
            "(user_id, notification_id, read, created_at) VALUES (%s, %s, %s, %s)",
            [user_id, NO_SUCH_NOTIFICATION, False, datetime.now(UTC)])


def emit(rack) -> Notification:
    envelope = Envelope(action="app:create", status="success",
                        data={"rack": rack.name, "name": "web"}, timestamp=datetime.now(UTC))
    return record_event(rack, envelope).notification


def test_an_event_fills_the_feeds_and_an_entry_without_its_notification_is_refused(
        transactional_db, owner, member, rack):
    notification = emit(rack)
    assert set(FeedEntry.objects.filter(notification=notification)
               .values_list("user_id", flat=True)) == {owner.pk, member.pk}
    with pytest.raises(IntegrityError):
        put_orphan_in_feed(owner.pk)


def test_deleting_a_notification_takes_its_entries(transactional_db, owner, rack):
    notification = emit(rack)
    notification.delete()
    assert not FeedEntry.objects.filter(user=owner).exists()


def test_the_migration_deletes_orphans_keeps_the_feed_and_goes_back(
        transactional_db, owner, rack):
    notification = emit(rack)
    try:
        migrate_to(BEFORE)
        put_orphan_in_feed(owner.pk)  # unchecked before
        assert FeedEntry.objects.filter(user=owner).count() == 2

        migrate_to(CHECKED)
        assert list(FeedEntry.objects.filter(user=owner)
                    .values_list("notification_id", flat=True)) == [notification.pk]
        with pytest.raises(IntegrityError):
            put_orphan_in_feed(owner.pk)

        migrate_to(BEFORE)
        put_orphan_in_feed(owner.pk)
        assert FeedEntry.objects.filter(user=owner).count() == 2
        FeedEntry.objects.filter(notification_id=NO_SUCH_NOTIFICATION).delete()
    finally:
        migrate_to_latest()
    assert FeedEntry.objects.filter(user=owner, notification=notification).exists()


@pytest.mark.skipif(os.environ.get("FEED_KEYS_ON_SQLITE") == "1", reason="the inner run")
def test_feed_keys_on_sqlite(tmp_path: Path):
    """The same tests on the embedded default's database."""
    out = run_again_on_sqlite(__file__, tmp_path, "FEED_KEYS_ON_SQLITE")
    assert "3 passed" in out and "failed" not in out
