"""The dashboard's forms answer a cap with its name, and the rack page shows a rack whose
own events went past a cap."""

import json
import uuid

from django.test import Client

from racks.models import App


def test_adding_a_rack_past_the_cap_is_explained_on_the_organization_page(client_for, owner, org,
                                                                          rack, settings):
    settings.MAX_RACKS_PER_ORGANIZATION = 1
    response = client_for("owner").post(f"/organizations/{org.slug}/", {"name": "staging"})
    assert response.status_code == 400  # the form again, its refusal beside the name
    assert "MAX_RACKS_PER_ORGANIZATION = 1" in response.content.decode()
    assert not org.racks.filter(name="staging").exists()


def test_creating_an_app_past_the_cap_is_explained_on_the_rack_page(client_for, member, rack,
                                                                    settings):
    settings.MAX_APPS_PER_RACK = 0
    response = client_for("member").post(f"/racks/{rack.pk}/apps/", {"name": "web"}, follow=True)
    assert response.status_code == 400  # the rack page again, the refusal atop the form
    assert "MAX_APPS_PER_RACK = 0" in response.content.decode()
    assert not App.objects.filter(rack=rack).exists()


def test_creating_a_resource_past_the_cap_is_explained_on_the_rack_page(client_for, member, rack,
                                                                       settings):
    settings.MAX_RESOURCES_PER_RACK = 0
    response = client_for("member").post(f"/racks/{rack.pk}/resources/",
                                  {"name": "db", "type": "postgres"}, follow=True)
    assert "MAX_RESOURCES_PER_RACK = 0" in response.content.decode()
    assert not rack.resources.exists()


def test_the_rack_page_shows_a_rack_over_its_cap_to_every_member(client_for, owner, viewer, rack,
                                                                 settings):
    settings.MAX_APPS_PER_RACK = 0
    body = json.dumps({"action": "app:create", "status": "success",
                       "data": {"rack": rack.name, "app": "shop"}})
    answer = Client().post(rack.ingest_path, body, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert answer.status_code == 202
    for who in ("owner", "viewer"):
        html = client_for(who).get(f"/racks/{rack.pk}/").content.decode()
        assert 'data-over-cap="apps"' in html and "MAX_APPS_PER_RACK" in html
        assert "shop" in html


def test_a_rack_within_its_caps_shows_no_warning(client_for, member, rack):
    assert "data-over-cap" not in client_for("member").get(f"/racks/{rack.pk}/").content.decode()
