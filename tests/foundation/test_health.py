"""The probes a load balancer points at: /healthz and /readyz."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from console import health
from tests.helpers import free_port


@pytest.fixture(autouse=True)
def _fresh_probe_state(monkeypatch) -> None:
    monkeypatch.setattr(health, "_redis", None)
    cache.delete_many([health.SWEEP_MARK, health.WAIT_MARK])


def test_healthz_answers_on_any_host_over_plain_http(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_the_database_redis_and_every_migration(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["migrations"] == "ok"
    assert body["redis"] == ("ok" if settings.REDIS_URL else "not used")
    assert response["Cache-Control"] == "no-store"


def test_a_late_sweeper_is_reported_but_does_not_make_the_process_unready(db, settings):
    # A console that just started has not swept yet: not late.
    body = Client().get("/readyz").json()
    assert body["sweeper"] == {"last_run_seconds_ago": None, "late": False,
                               "interval_seconds": 60}
    # Three intervals later, still no run: late, and still ready.
    cache.set(health.WAIT_MARK, time.time() - 181, timeout=None)
    body = Client().get("/readyz").json()
    assert body["status"] == "ready"
    assert body["sweeper"]["late"] is True and body["sweeper"]["last_run_seconds_ago"] is None

    from notifications.delivery.tasks import sweep_deliveries
    sweep_deliveries()
    body = Client().get("/readyz").json()
    assert body["sweeper"]["late"] is False
    assert body["sweeper"]["last_run_seconds_ago"] < 5


def test_readyz_is_unready_when_redis_is_unreachable(db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["redis"].startswith("unreachable") and body["database"] == "ok"


PROBE = r"""
import json, django
django.setup()
from django.test import Client
response = Client().get("/readyz")
print("PROBE", response.status_code, json.dumps(response.json()))
"""


def _probe_in(env_changes: dict[str, str]) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="console.settings", **env_changes)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE"))
    _, status, body = line.split(" ", 2)
    return int(status), json.loads(body)


def test_readyz_is_unready_with_an_unapplied_migration(tmp_path):
    status, body = _probe_in({"DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"})
    assert status == 503
    assert body["database"] == "ok" and body["migrations"].endswith(" unapplied")


def test_readyz_is_unready_when_the_database_is_unreachable():
    status, body = _probe_in(
        {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing"})
    assert status == 503
    assert body["database"].startswith("unreachable")
