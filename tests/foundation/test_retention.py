"""Retention: what is past its age is deleted in small batches; what is still on its way
stays. On PostgreSQL, and again on SQLite (the embedded default) in a subprocess."""

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from notifications import retention
from notifications.envelope import Envelope
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, FeedEntry, Notification
from notifications.pipeline import record_event
from notifications.tasks import prune_old_records
from tests.helpers import run_again_on_sqlite


def emit(rack, n: int, *, days_old: float = 0, status: str = "error") -> Notification:
    """A failed build (emailed to every member by default), made `days_old` days ago."""
    envelope = Envelope(action="build:create", status=status,
                        data={"rack": rack.name, "app": "web", "id": f"B{n:010d}"},
                        timestamp=datetime.now(UTC))
    notification = record_event(rack, envelope).notification
    if days_old:
        then = timezone.now() - timedelta(days=days_old)
        Notification.objects.filter(pk=notification.pk).update(created_at=then)
        Delivery.objects.filter(notification=notification).update(created_at=then)
    return notification


def finish_deliveries(notification: Notification) -> None:
    for delivery in Delivery.objects.filter(notification=notification):
        DeliveryAttempt.objects.create(delivery=delivery, started_at=delivery.created_at,
                                       succeeded=True, status_code=250)
    Delivery.objects.filter(notification=notification).update(status=DeliveryStatus.DELIVERED)


@pytest.fixture
def team(owner, member, viewer) -> list:
    return [owner, member, viewer]


def test_notifications_past_retention_go_with_their_feed_and_deliveries(team, rack):
    old, recent = emit(rack, 1, days_old=91), emit(rack, 2, days_old=89)
    # The recent one's deliveries are younger than the delivery log's retention.
    Delivery.objects.filter(notification=recent).update(created_at=timezone.now())
    finish_deliveries(old)
    finish_deliveries(recent)
    assert FeedEntry.objects.filter(notification=old).count() == 3

    assert retention.prune() == {"notifications": 1, "deliveries": 0}

    assert list(Notification.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not FeedEntry.objects.filter(notification_id=old.pk).exists()
    assert not Delivery.objects.filter(notification_id=old.pk).exists()
    assert DeliveryAttempt.objects.filter(delivery__notification=recent).count() == 3
    assert FeedEntry.objects.filter(notification=recent).count() == 3


def test_a_notification_with_a_delivery_still_on_its_way_is_kept(team, rack):
    waiting = emit(rack, 1, days_old=200)
    assert Delivery.objects.filter(notification=waiting, status=DeliveryStatus.PENDING).exists()
    retention.prune()
    assert Notification.objects.filter(pk=waiting.pk).exists()
    finish_deliveries(waiting)
    retention.prune()
    assert not Notification.objects.filter(pk=waiting.pk).exists()


def test_finished_deliveries_and_their_attempts_go_after_the_delivery_log_retention(team, rack):
    notification = emit(rack, 1, days_old=31)
    finish_deliveries(notification)
    unfinished = emit(rack, 2, days_old=31)  # still pending: stays
    fresh = emit(rack, 3, days_old=29)
    finish_deliveries(fresh)

    assert retention.prune() == {"notifications": 0, "deliveries": 3}

    assert not Delivery.objects.filter(notification=notification).exists()
    assert not DeliveryAttempt.objects.filter(delivery__notification=notification).exists()
    assert Delivery.objects.filter(notification=unfinished).count() == 3
    assert Delivery.objects.filter(notification=fresh).count() == 3
    # The notification itself is younger than its own retention.
    assert Notification.objects.filter(pk=notification.pk).exists()


def test_pruning_goes_in_batches_and_within_its_time(team, rack, settings):
    settings.RETENTION_BATCH_SIZE = 2
    for n in range(5):
        finish_deliveries(emit(rack, n, days_old=100))
    assert retention.prune(seconds=0) == {"notifications": 0, "deliveries": 0}
    assert prune_old_records() == {"notifications": 5, "deliveries": 0}
    assert not Notification.objects.exists()


def test_an_event_replayed_after_the_retention_window_is_stored_again(team, rack):
    first = emit(rack, 7, days_old=120)
    finish_deliveries(first)
    retention.prune()
    again = emit(rack, 7)
    assert again.pk != first.pk
    assert Notification.objects.count() == 1


def test_pruning_while_events_are_ingested_keeps_every_new_one(transactional_db, owner,
                                                               member, rack, settings):
    settings.RETENTION_BATCH_SIZE = 3
    for n in range(12):
        finish_deliveries(emit(rack, n, days_old=95))
    made: list[int] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        from django.db import connection
        try:
            for n in range(100, 130):
                made.append(emit(rack, n).pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=ingest)
    writer.start()
    pruned = 0
    while writer.is_alive():
        pruned += retention.prune()["notifications"]
    writer.join()
    pruned += retention.prune()["notifications"]
    assert errors == []
    assert pruned == 12
    assert sorted(Notification.objects.values_list("pk", flat=True)) == sorted(made)
    assert FeedEntry.objects.count() == 2 * len(made)


def test_the_feed_says_how_far_back_it_reaches(owner, rack, client_for):
    emit(rack, 1)
    client = client_for(owner)
    assert client.get("/api/v1/notifications/").json()["retention_days"] == 90
    assert "Notifications are kept for 90 days." in client.get("/").content.decode()


def test_beat_runs_the_pruning():
    task = django_settings.CELERY_BEAT_SCHEDULE["prune-old-records"]
    assert task["task"] == "notifications.tasks.prune_old_records"


@pytest.mark.skipif(os.environ.get("RETENTION_ON_SQLITE") == "1", reason="the inner run")
def test_retention_on_sqlite(tmp_path: Path):
    """The same tests on the embedded default's database."""
    out = run_again_on_sqlite(__file__, tmp_path, "RETENTION_ON_SQLITE")
    assert " passed" in out and "failed" not in out
