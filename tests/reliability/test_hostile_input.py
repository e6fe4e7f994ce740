"""Hostile input: a corpus of bad bodies against every write endpoint and the ingest URL,
and stateful schemathesis runs with the tokens of two organizations. Zero 5xx."""

import base64
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from notifications.delivery.endpoints import create_endpoint
from notifications.models import Notification
from racks import invitations
from racks.local import LocalRack
from racks.models import App, Rack, Role

pytestmark = [pytest.mark.reliability]

SQL = "'; DROP TABLE racks_rack; --"
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)">'
STRINGS = ["", " ", "x" * 5_000, SQL, HTML, "a\x00b", "\ud800", "ü" * 300, "../../etc/passwd",
           "${jndi:ldap://127.0.0.1/a}", "%s%s%n", "NaN"]
# Numbers and times whose fate depends on the database: past a signed 64-bit integer,
# or off the calendar once put in UTC.
NUMBERS_AND_TIMES = [-1, 2**63, -(2**63) - 1, 2**70, 1.5, "-1", "1e309", "9" * 25,
                     "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+23:59"]
VALUES = [None, True, [], {}, ["x"], {"a": {"b": {"c": []}}}, *STRINGS, *NUMBERS_AND_TIMES]
LONG_NUMBER = b'{"count": ' + b"1" * 5_000 + b"}"

RAW_BODIES: list[bytes] = [
    b"", b"{", b"not json", b"[]", b"null", b"123", b'"str"', b"\xff\xfe\xfa",
    b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', b"[" * 50_000 + b"]" * 50_000,
    b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, b"{" + b'"k": 1,' * 50_000 + b'"z": 1}',
    json.dumps({"name": "x" * 2_000_000}).encode(), LONG_NUMBER,
]


def _shapes(fields: list[str], values: list = VALUES) -> list[bytes]:
    """JSON objects that put every hostile value in every field the endpoint names."""
    bodies = []
    for field, value in itertools.product(fields, values):
        try:
            bodies.append(json.dumps({field: value}).encode())
        except (TypeError, ValueError):
            continue
    return bodies


FIELDS = ["name", "username", "email", "password", "role", "organization", "env", "fail",
          "description", "process", "count", "type", "version", "instance_type",
          "webhook_signing_key", "url", "events", "format", "enabled", "since", "rules",
          "channels", "event_type", "rack", "app", "window_minutes"]
# The second pass, on the embedded default (SQLite; see the last test of this file), is
# smaller: only what the database decides, numbers and times.
EMBEDDED_PASS = os.environ.get("HOSTILE_PASS") == "embedded"
CORPUS = ([LONG_NUMBER, *_shapes(FIELDS, NUMBERS_AND_TIMES)] if EMBEDDED_PASS
          else RAW_BODIES + _shapes(FIELDS))


def write_routes() -> list[str]:
    """Every URL pattern of the API, as a path with this test's objects filled in."""
    found: list[str] = []

    def walk(patterns, prefix: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/v1/"):
                    found.append("/" + route)

    walk(get_resolver().url_patterns)
    return found


def fill(route: str, world: dict) -> str:
    for name, value in world.items():
        for converter in ("id", "name", "build", "release", "username", "tokenid", "slug", ""):
            route = route.replace(f"<{converter}:{name}>" if converter else f"<{name}>",
                                  str(value))
    return route


@pytest.fixture
def world(owner, member, rack, settings) -> dict:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    local = LocalRack()
    app = local.create_app(rack, "demo")
    build = local.start_build(app)
    release = local.set_env(app, {"A": "1"})
    local.create_resource(rack, "db", "postgres")
    endpoint, _ = create_endpoint(owner, url="http://127.0.0.1:9/hook", events=["*"])
    token = AuthToken.objects.create(owner)[0]
    notification = Notification.objects.filter(rack=rack).first()
    cache.clear()  # the invitation below counts against a rate limit kept in the cache
    invitation = invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                                    role=Role.MEMBER, email="invited@example.com")
    return {"rack_id": rack.pk, "app": app.name, "build_id": build.pk,
            "release_id": release.pk, "name": "db", "slug": rack.organization.slug,
            "username": member.username, "token_id": token.token_key,
            "pk": notification.pk, "id": endpoint.pk, "endpoint_id": endpoint.pk,
            "webhook_id": endpoint.pk, "delivery_id": 1, "invitation_id": invitation.pk}


@pytest.mark.django_db
def test_no_bad_body_makes_any_write_endpoint_fail(world, owner):
    client = APIClient()
    client.force_authenticate(owner)
    routes = [fill(r, world) for r in write_routes()]
    unfilled = [r for r in routes if "<" in r]
    assert not unfilled, f"routes this test cannot fill: {unfilled}"
    tried = 0
    for route in routes:
        allowed = client.options(route).headers.get("Allow", "").lower()
        for method in [m for m in ("post", "put", "patch") if m in allowed]:
            for body in CORPUS:
                answer = getattr(client, method)(route, data=body,
                                                 content_type="application/json")
                assert answer.status_code < 500, (method, route, body[:80],
                                                  answer.content[:300])
                tried += 1
    # Whatever was thrown at it, the rack is still there, with its app.
    assert Rack.objects.filter(pk=world["rack_id"]).exists()
    assert App.objects.filter(rack_id=world["rack_id"], name="demo").exists()
    print(f"{tried} hostile bodies sent to {len(routes)} API routes, no 5xx")
    assert tried > (200 if EMBEDDED_PASS else 1000)


@pytest.mark.django_db
def test_no_bad_body_makes_the_ingest_url_fail(rack, owner, client):
    envelopes = [json.dumps({"action": "app:create", "data": {"name": v}}).encode()
                 for v in VALUES if not isinstance(v, float)]
    envelopes += [json.dumps({"action": v, "status": v, "data": {"k": "v"}}).encode()
                  for v in VALUES if not isinstance(v, float)]
    for body in RAW_BODIES + envelopes + _shapes(["action", "status", "data", "timestamp"]):
        answer = client.post(rack.ingest_path, data=body, content_type="application/json")
        assert answer.status_code in (202, 400, 413), (body[:80], answer.content[:200])
        assert "error" in answer.json() or answer.status_code == 202
    # HTML and SQL are stored as the text they are.
    client.post(rack.ingest_path, content_type="application/json", data=json.dumps(
        {"action": "app:create", "data": {"name": HTML, "app": SQL}}))
    assert Notification.objects.filter(message=f"[{rack.name}] Created app {SQL}").exists()
    assert Rack.objects.filter(pk=rack.pk).exists()


# The stateful run: schemathesis chains operations (create, then read, change, delete what
# was created) from links it infers from the schema. Calls alternate between the tokens of
# two organizations, so half the time one organization reaches for the other's objects.

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
_tokens: list[str] = []


class TwoOrganizations(schema.as_state_machine()):  # type: ignore[misc]
    """Each run starts from the same database and the same turn of tokens.

    Hypothesis replays runs and expects the same steps to draw the same data; what a step
    draws depends on what the API answered before, so an object left by an earlier run,
    or the other organization's turn, made a replay draw differently ("Inconsistent data
    generation"). Each run is rolled back to a savepoint when it ends.
    """

    total_calls = 0

    def __init__(self) -> None:
        super().__init__()
        self.turns = itertools.count()
        self.run_scope = transaction.atomic()
        self.run_scope.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.run_scope.__exit__(None, None, None)
        super().teardown()

    def get_call_kwargs(self, case):
        TwoOrganizations.total_calls += 1
        token = _tokens[next(self.turns) % len(_tokens)]
        return {"headers": {"Authorization": f"Token {token}"}}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, checks=[not_a_server_error])


@pytest.fixture
def keep_test_connection():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_stateful_runs_with_two_organizations_find_no_server_error(
        keep_test_connection, owner, outsider, rack, other_rack):
    _tokens[:] = [AuthToken.objects.create(owner)[1], AuthToken.objects.create(outsider)[1]]
    TwoOrganizations.total_calls = 0
    TwoOrganizations.run(settings=settings(
        max_examples=10 if EMBEDDED_PASS else 25, stateful_step_count=8, deadline=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    assert TwoOrganizations.total_calls > 50  # it really called the API, many times


# -- Numbers and times beyond what the database holds --------------------------------------
# Every id the database holds fits a signed 64-bit integer (PostgreSQL bigint, SQLite
# INTEGER); a larger number from a request once reached the database and answered 500
# (SQLite: "Python int too large to convert"). Each answers 400 or 404 with a message.

HUGE = "9" * 25
BIGINT_PLUS_ONE = str(2**63)


def cursor(**fields: str) -> str:
    """A cursor as a client could forge it: DRF's is base64 of a query string."""
    return base64.b64encode(urlencode(fields).encode()).decode()


@pytest.mark.django_db
def test_an_ingest_body_with_a_5000_digit_number_is_a_400(rack, client):
    body = b'{"action": "app:create", "data": {"name": ' + b"1" * 5_000 + b"}}"
    answer = client.post(rack.ingest_path, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert "digits" in answer.json()["error"]


@pytest.mark.django_db
def test_an_ingest_timestamp_past_year_9999_in_utc_means_now(rack, client):
    body = json.dumps({"action": "app:create", "data": {"name": "web"},
                       "timestamp": "9999-12-31T23:59:59.999999999-23:59"})
    answer = client.post(rack.ingest_path, data=body, content_type="application/json")
    assert answer.status_code == 202, answer.content
    stored = Notification.objects.get(pk=answer.json()["notification"])
    assert abs((stored.occurred_at - timezone.now()).total_seconds()) < 60


@pytest.fixture
def feed_world(world, owner) -> dict:
    """`world` and an API client of its owner."""
    client = APIClient()
    client.force_authenticate(owner)
    return {**world, "client": client}


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", [
    ("get", f"/api/v1/notifications/{HUGE}/"),
    ("post", f"/api/v1/notifications/{HUGE}/read/"),
    ("post", f"/api/v1/notifications/{BIGINT_PLUS_ONE}/unread/"),
    ("get", f"/api/v1/racks/{HUGE}/"),
    ("get", f"/api/v1/racks/{BIGINT_PLUS_ONE}/apps/"),
    ("get", f"/api/v1/webhooks/{HUGE}/"),
    ("get", f"/api/v1/webhooks/{HUGE}/deliveries/"),
    ("post", "/api/v1/webhooks/{webhook_id}/deliveries/" + HUGE + "/redeliver/"),
])
def test_an_id_in_an_api_path_beyond_the_database_is_a_404(feed_world, method, path):
    answer = getattr(feed_world["client"], method)(path.format(**feed_world))
    assert answer.status_code == 404, answer.content[:300]
    assert answer.json()


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    f"/racks/{HUGE}/", f"/racks/{BIGINT_PLUS_ONE}/update/", f"/settings/webhooks/{HUGE}/",
    "/settings/webhooks/{webhook_id}/deliveries/" + HUGE + "/redeliver/",
])
def test_an_id_in_a_page_path_beyond_the_database_is_a_404(world, client_for, path):
    assert client_for("owner").post(path.format(**world)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("query", [f"rack={HUGE}", f"rack={BIGINT_PLUS_ONE}", "rack=-1",
                                   "rack=" + "9" * 5_000])
def test_a_feed_filter_beyond_the_database_is_a_400(feed_world, query):
    answer = feed_world["client"].get(f"/api/v1/notifications/?{query}")
    assert answer.status_code == 400, answer.content[:300]
    assert "rack" in answer.json()


FORGED_FEED_CURSORS = [cursor(p=HUGE), cursor(p="-" + HUGE), cursor(p=BIGINT_PLUS_ONE),
                       cursor(p="9" * 5_000), cursor(p="x"), cursor(o="9" * 5_000),
                       cursor(p="1", r="9" * 5_000)]
FORGED_TIME_CURSORS = [cursor(p="9999-12-31T23:59:59.999999-23:59"),
                       cursor(p="0001-01-01T00:00:00+23:59"), cursor(p="99999-01-01"),
                       cursor(p="yesterday"), cursor(p=HUGE)]


@pytest.mark.django_db
@pytest.mark.parametrize("forged", FORGED_FEED_CURSORS)
def test_a_forged_feed_cursor_is_a_404(feed_world, forged):
    answer = feed_world["client"].get(f"/api/v1/notifications/?cursor={forged}")
    assert answer.status_code == 404, answer.content[:300]
    assert "cursor" in answer.json()["detail"].lower()


@pytest.mark.django_db
@pytest.mark.parametrize("forged", FORGED_FEED_CURSORS)
def test_a_forged_delivery_log_cursor_is_a_404(feed_world, forged):
    answer = feed_world["client"].get(
        f"/api/v1/webhooks/{feed_world['webhook_id']}/deliveries/?cursor={forged}")
    assert answer.status_code == 404, answer.content[:300]
    assert "cursor" in answer.json()["detail"].lower()


@pytest.mark.django_db
@pytest.mark.parametrize("forged", FORGED_TIME_CURSORS)
def test_a_forged_builds_cursor_is_a_404(feed_world, forged):
    path = "/api/v1/racks/{rack_id}/apps/{app}/builds/".format(**feed_world)
    answer = feed_world["client"].get(f"{path}?cursor={forged}")
    assert answer.status_code == 404, answer.content[:300]
    assert "cursor" in answer.json()["detail"].lower()


FAR_TIMES = ["9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+23:59"]


@pytest.mark.django_db
@pytest.mark.parametrize("since", FAR_TIMES)
def test_a_recover_time_beyond_the_calendar_is_a_400(feed_world, since):
    answer = feed_world["client"].post(
        f"/api/v1/webhooks/{feed_world['webhook_id']}/recover/", {"since": since},
        format="json")
    assert answer.status_code == 400, answer.content[:300]
    assert "since" in answer.json()


@pytest.mark.django_db
@pytest.mark.parametrize("since", FAR_TIMES)
def test_a_recover_time_beyond_the_calendar_on_the_page_is_a_400(world, client_for, since):
    answer = client_for("owner").post(f"/settings/webhooks/{world['webhook_id']}/",
                                      {"form": "recover", "since": since})
    assert answer.status_code == 400, answer.status_code
    assert b"since" in answer.content


def test_the_hostile_and_schema_suites_pass_on_the_embedded_default(tmp_path):
    """This file and the schemathesis run again, smaller, on the embedded default (SQLite,
    no Redis): SQLite's integer overflows where PostgreSQL's bigint refuses, and both
    must answer 400 or 404. A subprocess, so that it gets the embedded settings whatever
    this run is configured with (as tests/foundation/test_embedded.py does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
               HOSTILE_PASS="embedded", DJANGO_SETTINGS_MODULE="console.settings")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "tests/reliability/test_hostile_input.py", "tests/api/test_schema_fuzz.py",
         "-k", "not embedded_default"],
        env=env, cwd=root, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["abc", "1.5", HUGE, "9" * 5_000, "-1", ""])
def test_a_bad_id_in_a_dashboard_form_is_a_400(client_for, given):
    answer = client_for("owner").post("/settings/notifications/",
                                      {"form": "remove-override", "id": given})
    assert answer.status_code == 400
