"""/metrics: closed without its token, and its figures move as events are ingested,
stored, pushed and delivered; several processes of a host add up."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Delivery, DeliveryStatus
from tests.helpers import wait_for

TOKEN = "metrics-token-for-tests"


def scrape(client: Client | None = None) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_on(settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def post_event(rack, **data: str) -> int:
    body = {"action": "build:create", "status": "error",
            "data": {"rack": rack.name, "app": "web", **data},
            "timestamp": "2026-12-01T10:00:00Z"}
    return Client().post(rack.ingest_path, data=json.dumps(body),
                         content_type="application/json").status_code


def test_metrics_are_off_without_a_token_and_closed_without_the_right_one(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_ingest_outcomes_notifications_and_the_outbox_backlog_move(metrics_on, owner, member,
                                                                   rack):
    before = scrape()
    assert post_event(rack, id="BAAAAAAAAAA") == 202
    assert post_event(rack, id="BAAAAAAAAAA") == 202  # the same event again
    assert Client().post(rack.ingest_path, data="{", content_type="application/json"
                         ).status_code == 400
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("console_events_ingested_total", outcome="stored") == 1
    assert moved("console_events_ingested_total", outcome="duplicate") == 1
    assert moved("console_events_ingested_total", outcome="refused_400") == 1
    assert moved("console_notifications_stored_total", source="rack") == 1
    assert moved("console_request_seconds_count", endpoint="ingest") == 3
    # Each member's email waits in the outbox (no worker here).
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING).count()
    assert pending == 2
    assert value(after, "console_outbox_backlog") == pending
    assert value(after, "console_outbox_oldest_pending_seconds") >= 0


def test_deliveries_count_by_channel_and_outcome(metrics_on, celery_worker, owner, rack,
                                                 settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    before = scrape()
    assert post_event(rack, id="BBBBBBBBBBB") == 202
    wait_for(lambda: not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
             and Delivery.objects.exists(), timeout=20)
    after = scrape()
    delivered = (value(after, "console_deliveries_total", channel="email",
                       outcome="delivered")
                 - value(before, "console_deliveries_total", channel="email",
                         outcome="delivered"))
    assert delivered == 1
    assert value(after, "console_outbox_backlog") == 0


def test_the_feed_is_timed(metrics_on, owner, client_for):
    before = value(scrape(), "console_request_seconds_count", endpoint="feed")
    assert client_for(owner).get("/api/v1/notifications/").status_code == 200
    assert value(scrape(), "console_request_seconds_count", endpoint="feed") == before + 1


SCRIPT = r"""
import json, sys, django
django.setup()
from django.core.management import call_command
from django.test import Client
from racks.models import Organization, Rack
if sys.argv[1] == "setup":
    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="M", slug="m")
    Rack.objects.create(organization=org, name="r1", ingest_token="multiproc-token")
    sys.exit(0)
for n in range(int(sys.argv[1])):
    body = {"action": "app:create", "status": "success",
            "data": {"rack": "r1", "name": f"a{sys.argv[2]}{n}"}}
    assert Client().post("/ingest/multiproc-token/", data=json.dumps(body),
                         content_type="application/json").status_code == 202
if sys.argv[3] == "scrape":
    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    print([line for line in text.splitlines()
           if line.startswith('console_events_ingested_total{outcome="stored"}')])
"""


def test_several_processes_of_a_host_add_up(tmp_path: Path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="console.settings", METRICS_TOKEN="t",
               DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite3'}",
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env,
                              capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("setup")
    run("2", "x", "no")
    out = run("3", "y", "scrape")
    assert "console_events_ingested_total{outcome=\"stored\"} 5.0" in out
