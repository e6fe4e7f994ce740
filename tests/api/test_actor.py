"""Each notification names who caused it: the console user who acted, or the actor a v3
rack names in its event; nobody when the event does not say."""

import json
from datetime import UTC, datetime

import pytest

from notifications.models import Notification
from racks.events import emit
from racks.models import Membership, Role
from tests.helpers import wait_for


@pytest.fixture
def alice(make_user, org):
    user = make_user("alice")
    Membership.objects.create(organization=org, user=user, role=Role.MEMBER)
    return user


def newest_item(client) -> dict:
    return client.get("/api/v1/notifications/").json()["results"][0]


def ingest(client, rack, **data: str):
    body = {"action": "app:create", "timestamp": datetime.now(UTC).isoformat(),
            "data": {"rack": rack.name, **data}}
    response = client.post(rack.ingest_path, json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return response


def test_alice_creates_an_app_with_her_token_and_the_item_says_she_did(
        alice, rack, token_client):
    client = token_client(alice)
    assert client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "shop"},
                       format="json").status_code == 201
    item = newest_item(client)
    assert item["message"] == "[production] Created app shop"
    assert item["actor"] == "alice" and item["source"] == "console"


def test_alice_creates_an_app_on_the_rack_page_and_the_item_says_she_did(
        alice, rack, client_for):
    client = client_for(alice)
    client.post(f"/racks/{rack.pk}/apps/", {"name": "shop"})
    assert newest_item(client)["actor"] == "alice"


def test_a_v3_rack_names_its_actor_and_a_v2_rack_names_nobody(alice, rack, client_for, client):
    ingest(client, rack, app="shop", actor="deploy-bot\u202e")
    reader = client_for(alice)
    # Cleaned as names are: a right-to-left override would reverse the text around it.
    assert newest_item(reader)["actor"] == "deploy-bot"
    ingest(client, rack, app="blog")
    assert newest_item(reader)["actor"] == ""


def test_a_build_that_ends_in_a_worker_names_who_started_it(
        alice, rack, token_client, celery_worker):
    client = token_client(alice)
    client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "shop"}, format="json")
    started = client.post(f"/api/v1/racks/{rack.pk}/apps/shop/builds/",
                          {"description": "first"}, format="json")
    assert started.status_code == 201, started.content
    built = wait_for(lambda: Notification.objects.filter(action="build:create").first(),
                     what="the build ended")
    assert built.actor == "alice"
    released = Notification.objects.get(action="release:create")
    assert released.actor == "alice"


def test_nobody_is_named_for_what_no_request_caused(rack):
    # The console's own checks (a rack found unreachable) run in beat: no actor.
    assert emit(rack, "rack:unreachable", {"message": "timeout"}, "error"
                ).notification.actor == ""
