"""Ingest under concurrency, through the real HTTP endpoint of two daphne processes:
duplicates collapse to one, and thousands of distinct events from concurrent senders are
each stored exactly once, each with its delivery."""

import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.contrib.auth import get_user_model

from notifications.delivery.endpoints import create_endpoint
from notifications.models import ANY_EVENT_TYPE, Delivery, Notification, Preference
from racks.intake.signature import sign
from racks.models import Membership, Rack, Role
from racks.simulator import encode, rack_events

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hooked_rack(org, settings) -> Rack:
    """A rack whose one member wants every event by webhook and in the console."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    user = get_user_model().objects.create_user("hooked", "", "pw-1234567890!")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    Preference.objects.create(user=user, event_type=ANY_EVENT_TYPE,
                              channels=["in_app", "webhook"])
    # No worker runs and nothing listens on port 9: the deliveries are only counted.
    create_endpoint(user, url="http://127.0.0.1:9/hook", events=[ANY_EVENT_TYPE])
    return Rack.objects.create(organization=org, name="busy")


@pytest.fixture
def web_urls(cluster) -> list[str]:
    """Two web processes on the cluster's own Redis (its queue dies with it)."""
    cluster.add_web()
    cluster.add_web()
    return cluster.urls


def test_the_same_event_sent_fifty_times_at_once_is_stored_once(web_urls, hooked_rack):
    body = encode({"action": "app:create", "status": "success",
                   "timestamp": "2026-11-26T10:00:00.123456789Z",
                   "data": {"rack": "busy", "name": "web"}})
    barrier = threading.Barrier(50)

    def send(n: int) -> dict:
        url = web_urls[n % 2] + hooked_rack.ingest_path
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            answer = client.post(url, content=body,
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 202, answer.text
            return answer.json()

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send, range(50)))
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 49
    assert len({a["notification"] for a in answers}) == 1
    assert Notification.objects.filter(rack=hooked_rack).count() == 1
    assert Delivery.objects.filter(notification__rack=hooked_rack).count() == 1


SENDERS = 8
EVENTS = int(os.environ.get("INGEST_EVENTS", "10000"))


def test_ten_thousand_distinct_events_from_eight_senders_are_each_stored_once(
        web_urls, hooked_rack):
    per_sender = EVENTS // SENDERS
    refused: list[str] = []

    def sender(n: int) -> int:
        stored, url = 0, web_urls[n % 2] + hooked_rack.ingest_path
        events = itertools.islice(rack_events("busy", seed=n), per_sender)
        with httpx.Client(timeout=30) as client:
            for i, envelope in enumerate(events):
                # A rack's retry of the same event would carry the same key.
                answer = client.post(url, content=encode(envelope), headers={
                    "Content-Type": "application/json", "Idempotency-Key": f"s{n}-{i}"})
                if answer.status_code != 202:
                    refused.append(f"{answer.status_code} {answer.text}")
                elif not answer.json()["duplicate"]:
                    stored += 1
        return stored

    with ThreadPoolExecutor(SENDERS) as pool:
        stored = sum(pool.map(sender, range(SENDERS)))
    assert refused == []
    assert stored == EVENTS
    assert Notification.objects.filter(rack=hooked_rack).count() == EVENTS
    assert Delivery.objects.filter(notification__rack=hooked_rack).count() == EVENTS


def test_a_signed_request_replayed_on_every_web_process_is_stored_once(cluster, web_urls,
                                                                       hooked_rack):
    """A captured signed request, replayed with new Idempotency-Key values on both web
    processes, before and after a Redis restart: one notification, one delivery."""
    key = "c3" * 32
    hooked_rack.webhook_signing_key = key
    hooked_rack.save()
    body = encode({"action": "app:create", "status": "success",
                   "timestamp": "2026-11-26T10:00:00.123456789Z",
                   "data": {"rack": "busy", "name": "web"}})
    at = int(time.time())
    header = f"t={at},v1={sign(bytes.fromhex(key), at, body)}"

    def send(n: int) -> dict:
        with httpx.Client(timeout=30) as client:
            answer = client.post(web_urls[n % 2] + hooked_rack.ingest_path, content=body,
                                 headers={"Content-Type": "application/json",
                                          "Convox-Signature": header,
                                          "Idempotency-Key": f"replay-{n}"})
        assert answer.status_code == 202, answer.text
        return answer.json()

    first = send(0)
    assert first["duplicate"] is False
    cluster.redis.restart()
    with ThreadPoolExecutor(20) as pool:
        replays = list(pool.map(send, range(1, 21)))
    assert {(a["notification"], a["duplicate"]) for a in replays} == {
        (first["notification"], True)}
    assert Notification.objects.filter(rack=hooked_rack).count() == 1
    assert Delivery.objects.filter(notification__rack=hooked_rack).count() == 1
