"""Hostile input: a corpus of bad bodies against every write endpoint and the ingest URL,
and stateful schemathesis runs with the tokens of two organizations. Zero 5xx."""

import itertools
import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from notifications.delivery.endpoints import create_endpoint
from notifications.models import Notification
from racks.local import LocalRack
from racks.models import App, Rack

pytestmark = [pytest.mark.reliability]

SQL = "'; DROP TABLE racks_rack; --"
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)">'
STRINGS = ["", " ", "x" * 5_000, SQL, HTML, "a\x00b", "\ud800", "ü" * 300, "../../etc/passwd",
           "${jndi:ldap://127.0.0.1/a}", "%s%s%n", "NaN", "-1", "1e309"]
VALUES = [None, True, -1, 2**70, 1.5, [], {}, ["x"], {"a": {"b": {"c": []}}}, *STRINGS]

RAW_BODIES: list[bytes] = [
    b"", b"{", b"not json", b"[]", b"null", b"123", b'"str"', b"\xff\xfe\xfa",
    b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', b"[" * 50_000 + b"]" * 50_000,
    b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, b"{" + b'"k": 1,' * 50_000 + b'"z": 1}',
    json.dumps({"name": "x" * 2_000_000}).encode(),
]


def _shapes(fields: list[str]) -> list[bytes]:
    """JSON objects that put every hostile value in every field the endpoint names."""
    bodies = []
    for field, value in itertools.product(fields, VALUES):
        try:
            bodies.append(json.dumps({field: value}).encode())
        except (TypeError, ValueError):
            continue
    return bodies


FIELDS = ["name", "username", "email", "password", "role", "organization", "env", "fail",
          "description", "process", "count", "type", "version", "instance_type",
          "webhook_signing_key", "url", "events", "format", "enabled", "since", "rules",
          "channels", "event_type", "rack", "app", "window_minutes"]
CORPUS = RAW_BODIES + _shapes(FIELDS)


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
        for converter in ("int", "name", "build", "release", "username", "tokenid", "slug", ""):
            route = route.replace(f"<{converter}:{name}>" if converter else f"<{name}>",
                                  str(value))
    return route


@pytest.fixture
def world(owner, member, rack, settings) -> dict:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    local = LocalRack()
    app = local.create_app(rack, "demo")
    build = local.start_build(app)
    release = local.set_env(app, {"A": "1"})
    local.create_resource(rack, "db", "postgres")
    endpoint, _ = create_endpoint(owner, url="http://127.0.0.1:9/hook", events=["*"])
    token = AuthToken.objects.create(owner)[0]
    notification = Notification.objects.filter(rack=rack).first()
    return {"rack_id": rack.pk, "app": app.name, "build_id": build.pk,
            "release_id": release.pk, "name": "db", "slug": rack.organization.slug,
            "username": member.username, "token_id": token.token_key,
            "pk": notification.pk, "id": endpoint.pk, "endpoint_id": endpoint.pk,
            "webhook_id": endpoint.pk, "delivery_id": 1}


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
    assert tried > 1000


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
        max_examples=25, stateful_step_count=8, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    assert TwoOrganizations.total_calls > 50  # it really called the API, many times
