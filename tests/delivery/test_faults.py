"""Nothing is lost: a worker killed mid-delivery, a flushed broker, stale and twin tasks."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from console.celery import app
from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.outbox import attempt_deliveries, sweep_lost_deliveries
from notifications.models import Delivery, DeliveryStatus
from tests.delivery.conftest import Answer
from tests.helpers import all_at_once, database_url, wait_for

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]


def _needs_redis() -> None:
    if not django_settings.REDIS_URL:
        pytest.fail("These tests need REDIS_URL: a worker process shares the broker.")


@pytest.fixture
def worker_process(transactional_db):
    """Start `celery -A console worker` as its own process, on this test's database."""
    _needs_redis()
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": database_url(),
               "REDIS_URL": django_settings.REDIS_URL,
               "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8", "WEBHOOK_TIMEOUT_SECONDS": "4",
               "DELIVERY_LEASE_MARGIN_SECONDS": "1", "DJANGO_SETTINGS_MODULE": "console.settings"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool", "threads",
             "--concurrency", "2", "--without-heartbeat", "--without-mingle",
             "--without-gossip", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    app.control.purge()
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_worker_killed_mid_delivery_does_not_lose_it(worker_process, member, rack,
                                                       receiver, emit, settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 0.5
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.secrets = [secret]
    receiver.answer(Answer(delay=30), Answer())  # the first request hangs
    worker = worker_process()
    emit("app:create", app="web", name="web")
    assert receiver.arrived.wait(60), "the worker process never sent the delivery"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.SENDING  # claimed by the dead worker

    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=30):
        def delivered() -> bool:
            sweep_lost_deliveries()  # what Celery beat runs every minute
            delivery.refresh_from_db()
            return delivery.status == DeliveryStatus.DELIVERED
        wait_for(delivered, timeout=30, interval=0.5)
    assert len(receiver.requests) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.webhook_id}
    assert len(receiver.verified) == 2 and not receiver.rejected
    assert delivery.attempts == 2


def test_a_flushed_broker_loses_nothing(celery_worker_stopped, member, rack, receiver, emit,
                                        settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 0.5
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    for n in range(5):
        emit("app:create", app=f"web{n}", name=f"web{n}")
    assert redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=30):
        # Once the worker answers, it consumes the queue: had a message survived, it would
        # be on its way.
        wait_for(lambda: app.control.ping(timeout=0.5), what="the worker never answered")
        assert receiver.requests == []  # the messages are gone
        assert Delivery.objects.filter(endpoint=endpoint,
                                       status=DeliveryStatus.PENDING).count() == 5
        assert sweep_lost_deliveries() == 5
        wait_for(lambda: Delivery.objects.filter(
            endpoint=endpoint, status=DeliveryStatus.DELIVERED).count() == 5, timeout=20)
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        Delivery.objects.filter(endpoint=endpoint).values_list("webhook_id", flat=True))


@pytest.fixture
def celery_worker_stopped(transactional_db):
    """The broker with no worker consuming it yet."""
    _needs_redis()
    app.control.purge()


def test_a_stale_task_does_not_send_a_delivered_delivery_again(db, member, rack, receiver,
                                                               emit):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempt_deliveries([delivery.pk])
    attempt_deliveries([delivery.pk])  # the broker handed the same task out twice
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert len(receiver.requests) == 1


def test_twin_tasks_at_the_same_moment_send_once(transactional_db, member, rack, receiver,
                                                 emit):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(delay=0.5))
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    all_at_once(4, lambda: attempt_deliveries([delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert len(receiver.requests) == 1


def test_a_task_early_for_a_retry_waits_for_its_time(db, member, rack, receiver, emit):
    from datetime import timedelta

    from django.utils import timezone

    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5))
    attempt_deliveries([delivery.pk])
    assert receiver.requests == []
