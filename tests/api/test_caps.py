"""Caps: an organization holds at most MAX_RACKS_PER_ORGANIZATION racks, a rack at most
MAX_APPS_PER_RACK apps and MAX_RESOURCES_PER_RACK resources. Adding past a cap answers a
4xx that names it; a rack's own events past a cap are still stored, but what they add is
not modelled and the rack shows as over its cap."""

import json
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from notifications.models import Notification
from racks.driver import RackError
from racks.local import LocalRack
from racks.models import App, Rack, Resource
from tests.helpers import all_at_once


def ingest(rack: Rack, action: str, **data: str):
    body = json.dumps({"action": action, "status": "success",
                       "data": {"rack": rack.name, **data}}).encode()
    return APIClient().post(rack.ingest_path, body, content_type="application/json",
                            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


# Racks per organization


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_adding_a_rack_past_the_organizations_cap_is_refused_by_name(
        people, client_for, org, rack, settings, role):
    settings.MAX_RACKS_PER_ORGANIZATION = 2
    client = client_for(role)
    assert client.post("/api/v1/racks/", {"organization": "acme", "name": "staging"},
                       format="json").status_code == 201
    response = client.post("/api/v1/racks/", {"organization": "acme", "name": "qa"},
                           format="json")
    assert response.status_code == 400
    assert "MAX_RACKS_PER_ORGANIZATION = 2" in response.json()["error"]
    assert org.racks.count() == 2


def test_the_rack_cap_counts_each_organization_on_its_own(owner, outsider, rack, other_rack,
                                                          settings, client_for):
    settings.MAX_RACKS_PER_ORGANIZATION = 1
    response = client_for(outsider).post("/api/v1/racks/",
                                         {"organization": "globex", "name": "two"},
                                         format="json")
    assert response.status_code == 400  # Globex is at its cap ...
    other_rack.delete()
    response = client_for(outsider).post("/api/v1/racks/",
                                         {"organization": "globex", "name": "two"},
                                         format="json")
    assert response.status_code == 201  # ... and has room again once one goes


# Apps and resources per rack


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_creating_an_app_past_the_racks_cap_is_refused_by_name(people, client_for, rack,
                                                               settings, role):
    settings.MAX_APPS_PER_RACK = 2
    client = client_for(role)
    for name in ("web", "worker"):
        assert client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": name},
                           format="json").status_code == 201
    response = client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "shop"}, format="json")
    assert response.status_code == 400
    assert "MAX_APPS_PER_RACK = 2" in response.json()["error"]
    assert not App.objects.filter(rack=rack, name="shop").exists()
    assert not Notification.objects.filter(rack=rack, app="shop").exists()


def test_the_viewer_is_refused_for_their_role_before_any_cap(viewer, rack, settings,
                                                             client_for):
    settings.MAX_APPS_PER_RACK = 0
    response = client_for(viewer).post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "web"},
                                       format="json")
    assert response.status_code == 403


def test_creating_a_resource_past_the_racks_cap_is_refused_by_name(member, rack, settings,
                                                                   client_for):
    settings.MAX_RESOURCES_PER_RACK = 1
    client = client_for(member)
    url = f"/api/v1/racks/{rack.pk}/resources/"
    assert client.post(url, {"name": "db", "type": "postgres"},
                       format="json").status_code == 201
    response = client.post(url, {"name": "cache", "type": "redis"}, format="json")
    assert response.status_code == 400
    assert "MAX_RESOURCES_PER_RACK = 1" in response.json()["error"]
    assert list(rack.resources.values_list("name", flat=True)) == ["db"]


def test_the_local_rack_itself_refuses_past_the_cap(rack, settings):
    settings.MAX_APPS_PER_RACK = 1
    LocalRack().create_app(rack, "web")
    with pytest.raises(RackError, match="MAX_APPS_PER_RACK"):
        LocalRack().create_app(rack, "shop")


# Events a rack reports past its caps


def test_an_app_reported_past_the_cap_is_stored_as_a_notification_but_not_modelled(
        owner, member, rack, settings, client_for):
    settings.MAX_APPS_PER_RACK = 1
    assert ingest(rack, "app:create", app="web").status_code == 202
    response = ingest(rack, "app:create", app="shop")
    assert response.status_code == 202
    stored = Notification.objects.get(pk=response.json()["notification"])
    assert stored.message == "[production] Created app shop"  # no event is dropped
    assert list(rack.apps.values_list("name", flat=True)) == ["web"]

    client = client_for(member)
    assert client.get(f"/api/v1/racks/{rack.pk}/").json()["over_cap"] == ["apps"]
    (listed,) = client.get("/api/v1/racks/").json()["results"]
    assert listed["over_cap"] == ["apps"]
    messages = [n["message"] for n in client.get("/api/v1/notifications/").json()["results"]]
    assert "[production] Created app shop" in messages

    # Once the rack reports it deleted, the rack is within its cap again.
    assert ingest(rack, "app:delete", app="shop").status_code == 202
    assert client.get(f"/api/v1/racks/{rack.pk}/").json()["over_cap"] == []


def test_a_resource_reported_past_the_cap_is_noted_not_modelled(member, rack, settings,
                                                                client_for):
    settings.MAX_RESOURCES_PER_RACK = 0
    response = ingest(rack, "resource:create", name="db", type="postgres")
    assert response.status_code == 202 and response.json()["notification"]
    assert not Resource.objects.filter(rack=rack).exists()
    body = client_for(member).get(f"/api/v1/racks/{rack.pk}/").json()
    assert body["over_cap"] == ["resources"]


def test_a_rack_within_its_caps_is_not_over_them(member, rack, client_for):
    assert ingest(rack, "app:create", app="web").status_code == 202
    assert client_for(member).get(f"/api/v1/racks/{rack.pk}/").json()["over_cap"] == []


def test_events_about_an_app_the_console_does_not_model_are_stored(owner, rack, settings):
    settings.MAX_APPS_PER_RACK = 0
    ingest(rack, "app:create", app="shop")
    response = ingest(rack, "release:create", app="shop", id="RAAAAAAAAAA")
    assert response.status_code == 202 and response.json()["notification"]
    assert not App.objects.filter(rack=rack).exists()


@pytest.mark.django_db(transaction=True)
def test_apps_created_at_once_never_pass_the_cap(rack, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: nothing runs at once there")
    settings.MAX_APPS_PER_RACK = 3
    names = [f"app-{n}" for n in range(8)]  # list.pop is atomic across threads
    refused: list[str] = []

    def create() -> None:
        name = names.pop()
        try:
            LocalRack().create_app(Rack.objects.get(pk=rack.pk), name)
        except RackError as why:
            refused.append(str(why))

    all_at_once(8, create)
    assert rack.apps.count() == 3 and len(refused) == 5


@pytest.mark.django_db(transaction=True)
def test_apps_reported_at_once_never_pass_the_cap(rack, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write: nothing runs at once there")
    settings.MAX_APPS_PER_RACK = 3
    names = [f"app-{n}" for n in range(8)]
    answers: list[int] = []
    all_at_once(8, lambda: answers.append(ingest(rack, "app:create",
                                                 app=names.pop()).status_code))
    assert answers == [202] * 8
    assert rack.apps.count() == 3 and rack.cap_overflows.count() == 5
    assert Notification.objects.filter(rack=rack, action="app:create").count() == 8
