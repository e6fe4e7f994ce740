"""One path from a rack event to a notification: stored once, state updated, addressed."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from notifications.envelope import Envelope
from notifications.models import FeedEntry, Notification, Source
from notifications.pipeline import record_event
from racks.intake.receive import receive_event
from racks.models import App, Release
from tests.helpers import all_at_once


def event(action: str, status: str = "success", **data: str) -> Envelope:
    return Envelope(action=action, status=status, data={"rack": "production", **data},
                    timestamp=datetime(2026, 11, 1, 12, 0, tzinfo=UTC))


def test_a_rack_event_becomes_a_notification_in_every_members_feed(
        rack, owner, member, viewer, outsider):
    recorded = record_event(rack, event("app:create", name="web"))
    n = recorded.notification
    assert not recorded.duplicate
    assert n.message == "[production] Created app web"
    assert (n.action, n.status, n.app, n.severity, n.source) == (
        "app:create", "success", "web", "success", Source.RACK)
    assert n.occurred_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    readers = set(FeedEntry.objects.filter(notification=n).values_list("user__username",
                                                                        flat=True))
    assert readers == {owner.username, member.username, viewer.username}


def test_a_racks_event_received_updates_the_modelled_rack(rack, owner):
    receive_event(rack, event("app:create", app="web"))
    assert App.objects.filter(rack=rack, name="web").exists()
    receive_event(rack, event("release:create", id="RABCDEFGHIJ", app="web"))
    receive_event(rack, event("release:promote", "start", id="RABCDEFGHIJ", app="web"))
    assert Release.objects.get(pk="RABCDEFGHIJ").active
    receive_event(rack, event("rack:update", version="3.25.0", count="5", type="t3.large"))
    rack.refresh_from_db()
    assert (rack.version, rack.instance_count, rack.instance_type) == ("3.25.0", 5, "t3.large")
    receive_event(rack, event("resource:create", name="pg1", type="postgres"))
    assert rack.resources.filter(name="pg1", type="postgres").exists()
    receive_event(rack, event("resource:delete", name="pg1", type="postgres"))
    assert not rack.resources.exists()
    receive_event(rack, event("app:delete", name="web"))
    assert not App.objects.filter(rack=rack).exists()


def test_a_v3_racks_promote_events_count_as_v2_ones_do(rack, owner):
    receive_event(rack, event("app:create", app="web"))
    receive_event(rack, event("release:create", id="RABCDEFGHIJ", app="web"))
    done = receive_event(rack, event("app:promote:completed", id="RABCDEFGHIJ",
                                     app="web")).notification
    assert Release.objects.get(pk="RABCDEFGHIJ").active
    assert done.event_type == "release:deployed"
    assert done.message == f"[{rack.name}] Finished rolling deploy of release RABCDEFGHIJ " \
                           "for app web"
    receive_event(rack, event("release:create", id="RBBBBBBBBBB", app="web"))
    failed = receive_event(rack, event("app:promote:errored", "error", id="RBBBBBBBBBB",
                                       app="web", message="deployment failed")).notification
    assert failed.event_type == "release:promote-failed"
    assert failed.message.endswith("failed for app web: deployment failed")
    assert not Release.objects.get(pk="RBBBBBBBBBB").active
    assert Release.objects.get(pk="RABCDEFGHIJ").active


def test_the_same_event_twice_is_stored_once(rack, owner):
    first = record_event(rack, event("app:create", name="web"))
    again = record_event(rack, event("app:create", name="web"))
    assert again.duplicate and again.notification.pk == first.notification.pk
    assert Notification.objects.count() == 1
    assert FeedEntry.objects.count() == 1


def test_an_idempotency_key_decides_over_content(rack, owner):
    a = record_event(rack, event("app:create", name="web"), idempotency_key="k1")
    b = record_event(rack, event("app:create", name="web"), idempotency_key="k2")
    c = record_event(rack, event("app:delete", name="web"), idempotency_key="k1")
    assert not a.duplicate and not b.duplicate
    assert c.duplicate and c.notification.pk == a.notification.pk


def test_undated_identical_events_dedupe_but_dated_ones_differ(rack, owner):
    undated = Envelope(action="app:create", data={"name": "web"})
    assert not record_event(rack, undated).duplicate
    assert record_event(rack, undated).duplicate
    later = Envelope(action="app:create", data={"name": "web"},
                     timestamp=datetime(2026, 11, 2, tzinfo=UTC))
    assert not record_event(rack, later).duplicate


def test_the_same_event_on_two_racks_is_two_notifications(rack, other_rack):
    record_event(rack, event("app:create", name="web"))
    record_event(other_rack, event("app:create", name="web"))
    assert Notification.objects.count() == 2


def test_an_unknown_action_is_stored_never_dropped(rack, owner):
    n = record_event(rack, event("process:restart", app="web", process="worker")).notification
    assert n.event_type == "other:event"
    assert n.message == "[production] process restart succeeded (app web, process worker)"
    assert FeedEntry.objects.filter(notification=n, user=owner).exists()


def test_internal_events_are_stored_but_reach_no_feed(rack, owner):
    n = record_event(rack, event("rack:capacity")).notification
    assert Notification.objects.filter(pk=n.pk).exists()
    assert not FeedEntry.objects.exists()


def test_state_values_the_console_cannot_model_are_skipped_not_refused(rack, owner):
    n = record_event(rack, event("app:create", name="Not A Valid Name" * 10)).notification
    assert n.pk and not App.objects.exists()
    record_event(rack, event("release:create", id="not-an-id", app="web"))
    record_event(rack, event("rack:update", count="many"))
    rack.refresh_from_db()
    assert rack.instance_count == 3


@pytest.mark.django_db(transaction=True)
def test_the_same_event_sent_concurrently_is_stored_exactly_once(rack, owner):
    results = []
    all_at_once(8, lambda: results.append(
        record_event(rack, event("app:create", name="web")).duplicate))
    assert sorted(results) == [False] + [True] * 7
    assert Notification.objects.count() == 1


def _organization_of(org, count: int, **extra: object) -> list:
    """`count` more members (no passwords: hashing 40 of them takes seconds)."""
    from django.contrib.auth import get_user_model

    from racks.models import Membership

    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"crew{n}", email=f"crew{n}@example.com", **extra)
        for n in range(count))
    Membership.objects.bulk_create(Membership(organization=org, user=u) for u in users)
    return users


def test_an_event_costs_the_same_queries_for_a_large_organization_as_a_small_one(
        rack, org, owner, django_capture_on_commit_callbacks):
    from django.test.utils import CaptureQueriesContext

    def queries_for(name: str) -> int:
        with CaptureQueriesContext(connection) as queries, \
                django_capture_on_commit_callbacks(execute=True):
            record_event(rack, event("build:create", "error", app=name, id="BAAAAAAAAAA"))
        return len(queries)

    small = queries_for("small")
    _organization_of(org, 40)
    assert queries_for("large") == small
    assert FeedEntry.objects.filter(notification__app="large").count() == 41


def test_after_the_commit_its_pending_deliveries_are_queued_without_reading_them_back(
        rack, org, owner, monkeypatch, django_capture_on_commit_callbacks):
    from django.test.utils import CaptureQueriesContext

    from notifications.delivery import outbox
    from notifications.models import Delivery, DeliveryStatus, EmailDigest

    crew = _organization_of(org, 5)
    EmailDigest.objects.create(user=crew[0], window_minutes=60)  # theirs waits for a digest
    queued: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", queued.append)
    with django_capture_on_commit_callbacks() as after_commit:
        n = record_event(rack, event("build:create", "error", app="web",
                                     id="BAAAAAAAAAA")).notification
    with CaptureQueriesContext(connection) as queries:
        for callback in after_commit:
            callback()
    emails = Delivery.objects.filter(notification=n, channel="email")
    pending = emails.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True)
    assert [sorted(ids) for ids in queued] == [sorted(pending)]
    assert len(pending) == 5 and emails.filter(status=DeliveryStatus.BATCHED).count() == 1
    assert [q["sql"] for q in queries] == []  # the live push too had all it needed


def test_inactive_members_hear_nothing(rack, org, owner):
    (gone,) = _organization_of(org, 1, is_active=False)
    n = record_event(rack, event("build:create", "error", app="web",
                                 id="BAAAAAAAAAA")).notification
    assert list(FeedEntry.objects.filter(notification=n).values_list("user", flat=True)) == [
        owner.pk]
    assert not n.deliveries.filter(user=gone).exists()
