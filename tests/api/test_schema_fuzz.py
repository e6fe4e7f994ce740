"""Every operation of /api/schema/, fuzzed through the WSGI app with a real API token.

Schemathesis generates valid and invalid requests from the schema; each must answer
without a 5xx, with a status code the schema lists, and with a body that matches it.
Path parameters point at real objects most of the time, so operations get past 404.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from console.outbound.client import Client, Unreachable
from racks.local import LocalRack
from racks.models import Membership, Role

# Fewer in the second pass on the embedded default (HOSTILE_PASS=embedded; see
# tests/reliability/test_hostile_input.py).
MAX_EXAMPLES = 5 if os.environ.get("HOSTILE_PASS") == "embedded" else 15


@pytest.fixture
def keep_test_connection():
    """Schemathesis calls the WSGI app directly: as Django's test client does, keep the
    end of each request from closing the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def no_rack_connections(monkeypatch):
    """Connecting a Convox rack probes the host a request names: the fuzz's hosts must
    not be contacted, so every outgoing request answers as an unreachable host."""
    async def unreachable(*args: object, **kwargs: object) -> None:
        raise Unreachable("the fuzz connects to no rack")
    monkeypatch.setattr(Client, "send", unreachable)


@pytest.fixture
def world(keep_test_connection, no_rack_connections, owner, admin, member, viewer,
          rack) -> dict[str, object]:
    """An organization with people, a rack with an app, a build, a release, a resource,
    and an API token of its owner."""
    local = LocalRack()
    app = local.create_app(rack, "demo")
    build = local.start_build(app)
    release = local.set_env(app, {"MODE": "fast"})
    local.create_resource(rack, "db", "postgres")
    _, token = AuthToken.objects.create(owner)
    Membership.objects.filter(user=admin).update(role=Role.ADMIN)
    _current_world.clear()
    _current_world.update({
        "rack_id": rack.pk, "app": "demo", "build_id": build.pk, "release_id": release.pk,
        "name": "db", "slug": "acme", "username": "mia", "token": token})
    return _current_world


# Loaded once at collection: generating the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
_current_world: dict[str, object] = {}


@schema.hook
def map_path_parameters(context, path_parameters):
    operation = context.operation
    if not path_parameters:
        return path_parameters
    # Deleting the rack itself would leave the rest of that operation's examples at 404.
    keep_random = operation.method.upper() == "DELETE" and operation.path.endswith(
        "/racks/{rack_id}/")
    for name in path_parameters:
        if name in _current_world and not keep_random:
            path_parameters[name] = _current_world[name]
    return path_parameters


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_operation_fails_or_breaks_its_schema(case, world):
    case.call_and_validate(
        headers={"Authorization": f"Token {world['token']}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )
