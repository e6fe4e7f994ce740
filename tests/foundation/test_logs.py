"""Log lines carry the request id, come out as JSON when asked, and never hold a secret."""

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from console import tracing
from tests.helpers import wait_for


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the console's own log handler writes, as configured by settings.LOGGING."""
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, tracing.Redact) for f in h.filters))
    captured = io.StringIO()
    previous = handler.setStream(captured)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    logging.getLogger("django").setLevel(logging.INFO)
    yield captured
    root.setLevel(level)
    handler.setStream(previous)


def test_every_answer_names_its_request_id_and_a_sane_one_given_is_kept(db):
    response = Client().get("/healthz")  # answered before the request id middleware
    response = Client().get("/accounts/login/")
    assert len(response["X-Request-ID"]) == 32
    kept = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="lb-1234.abc")
    assert kept["X-Request-ID"] == "lb-1234.abc"
    replaced = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"


def test_a_refused_ingest_is_logged_with_its_request_id_and_without_the_secret(
        rack, log_output):
    response = Client().post(rack.ingest_path, data="not json", content_type="application/json",
                             HTTP_X_REQUEST_ID="trace-me-1")
    assert response.status_code == 400
    written = log_output.getvalue()
    assert "trace-me-1" in written
    assert "/ingest/[hidden]" in written
    assert rack.ingest_token not in written


@pytest.mark.parametrize("line, secret, shown", [
    ("Authorization: Token 0123456789abcdef0123", "0123456789abcdef0123", "Token [hidden]"),
    ("wss://console/ws/notifications/?token=abcdef0123456789", "abcdef0123456789",
     "?token=[hidden]"),
    ("ws ?ticket=abcdefgh12345678&x=1", "abcdefgh12345678", "?ticket=[hidden]&x=1"),
    ("secret whsec_c2VjcmV0c2VjcmV0c2VjcmV0", "c2VjcmV0c2VjcmV0c2VjcmV0", "whsec_[hidden]"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9", "Bearer [hidden]"),
])
def test_secrets_are_masked_in_any_log_line(log_output, line, secret, shown):
    logging.getLogger("anything").warning("saw %s", line)
    written = log_output.getvalue()
    assert shown in written
    assert secret not in written


def test_a_traceback_is_masked_too(log_output, rack):
    try:
        raise ValueError(f"failed on {rack.ingest_path}")
    except ValueError:
        logging.getLogger("anything").exception("oops")
    assert rack.ingest_token not in log_output.getvalue()
    assert "/ingest/[hidden]" in log_output.getvalue()


def test_the_request_id_follows_into_the_tasks_it_queues(celery_worker, owner, member, rack,
                                                         log_output, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    body = {"action": "build:create", "status": "error",
            "data": {"rack": rack.name, "app": "traced", "id": "BAAAAAAAAAA"},
            "timestamp": "2026-12-01T10:00:00Z"}
    response = Client().post(rack.ingest_path, data=json.dumps(body),
                             content_type="application/json", HTTP_X_REQUEST_ID="trace-me-2")
    assert response.status_code == 202
    wait_for(lambda: "delivered" in log_output.getvalue(), timeout=15,
             what="a worker's log line of the delivery")
    attempts = [line for line in log_output.getvalue().splitlines() if "delivered" in line]
    assert attempts and all("[trace-me-2]" in line for line in attempts)


SCRIPT = r"""
import logging, django
django.setup()
from django.test import Client
from console import tracing
from tests.helpers import wait_for
tracing.start("json-run-1")
tracing.about(notification=7, rack=3)
logging.getLogger("console").warning("reached /ingest/abcdefghijklmnop/ once")
"""


def test_log_format_json_writes_one_object_a_line_with_the_ids(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LOG_FORMAT="json", DJANGO_SETTINGS_MODULE="console.settings",
               DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "console"
    assert line["request_id"] == "json-run-1"
    assert line["notification_id"] == 7 and line["rack_id"] == 3
    assert line["message"] == "reached /ingest/[hidden]/ once"
