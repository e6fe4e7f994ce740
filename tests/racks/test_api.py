"""Connected racks through the API, by role: owners and admins connect and disconnect,
members act, viewers read, outsiders see nothing."""

import pytest

from racks.models import App, Rack
from tests.helpers import wait_for
from tests.racks.test_convox_driver import tarball, tarball_source

CONNECTING = {"owner": 201, "admin": 201, "member": 403, "viewer": 403, "outsider": 404,
              "anonymous": 401}
ACTING = {"owner": 201, "admin": 201, "member": 201, "viewer": 403, "outsider": 404,
          "anonymous": 401}


def connect_body(fake, **extra) -> dict:
    return {"organization": "acme", "name": "real", "driver": "convox", "host": fake.url,
            "password": fake.password, **extra}


@pytest.fixture
def people(owner, admin, member, viewer, outsider) -> dict:
    return {"owner": owner, "admin": admin, "member": member, "viewer": viewer,
            "outsider": outsider, "anonymous": None}


@pytest.mark.parametrize("role", list(CONNECTING))
def test_connecting_a_rack_by_role(people, client_for, fake, role):
    response = client_for(people[role]).post("/api/v1/racks/", connect_body(fake),
                                             format="json")
    assert response.status_code == CONNECTING[role]
    assert Rack.objects.filter(name="real").exists() == (response.status_code == 201)
    if response.status_code == 201:
        body = response.json()
        assert (body["driver"], body["host"], body["status"]) == ("convox", fake.url, "running")
        assert body["version"] == fake.version and body["provider"] in ("aws", "k8s")
        assert "password" not in body and fake.password not in response.content.decode()
        assert body["reachable"] is True
        assert bool(body["signing_key_command"]) == (fake.generation == 3)
        assert body["count"] == (3 if fake.generation == 2 else None)


@pytest.mark.parametrize("change, reason", [
    ({"password": "wrong"}, "refused the password"),
    ({"host": "https://rack.example.com:6379"}, "Redis"),
    ({"tls_fingerprint": "sha256:zz"}, "SHA-256"),
])
def test_a_failed_connect_is_a_400_saying_what_failed(owner, client_for, fake, change, reason):
    response = client_for(owner).post("/api/v1/racks/", connect_body(fake, **change),
                                      format="json")
    assert response.status_code == 400 and reason in response.json()["error"]
    assert not Rack.objects.exists()


def test_an_unreachable_rack_is_a_400(owner, client_for, fake):
    fake.stop()
    response = client_for(owner).post("/api/v1/racks/", connect_body(fake), format="json")
    assert response.status_code == 400
    assert "could not be reached" in response.json()["error"]


def test_connect_fields_without_the_convox_driver_are_explained(owner, client_for, fake):
    body = connect_body(fake)
    del body["driver"]
    response = client_for(owner).post("/api/v1/racks/", body, format="json")
    assert response.status_code == 400 and "driver" in str(response.json())
    missing = client_for(owner).post("/api/v1/racks/", {"organization": "acme", "name": "r",
                                                        "driver": "convox"}, format="json")
    assert missing.status_code == 400 and set(missing.json()) == {"host", "password"}


def test_connect_attempts_are_throttled_with_a_429(owner, client_for, fake, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "rack_connect_organization": "1/hour"}}
    client = client_for(owner)
    client.post("/api/v1/racks/", connect_body(fake, password="wrong"), format="json")
    response = client.post("/api/v1/racks/", connect_body(fake), format="json")
    assert response.status_code == 429 and "Retry-After" in response.headers


@pytest.mark.parametrize("role", list(ACTING))
def test_acting_on_a_connected_rack_by_role(people, client_for, fake, connected, role):
    response = client_for(people[role]).post(f"/api/v1/racks/{connected.pk}/apps/",
                                             {"name": "web"}, format="json")
    assert response.status_code == ACTING[role]
    assert ("web" in fake.apps) == (response.status_code == 201)


def test_a_build_from_an_uploaded_tarball(member, client_for, fake, connected, viewer):
    App.objects.create(rack=connected, name="web")
    fake.create_app({"name": "web"})
    url = f"/api/v1/uploads/racks/{connected.pk}/apps/web/builds/?description=first"
    refused = client_for(viewer).post(url, tarball(), content_type="application/gzip")
    assert refused.status_code == 403
    response = client_for(member).post(url, tarball(), content_type="application/gzip")
    assert response.status_code == 201, response.content
    assert response.json()["description"] == "first"
    assert response.json()["id"] in fake.builds
    json_build = client_for(member).post(f"/api/v1/racks/{connected.pk}/apps/web/builds/",
                                         {}, format="json")
    assert json_build.status_code == 400 and "/api/v1/uploads/" in json_build.json()["error"]


def test_promote_with_force_and_scale_with_sizes(member, client_for, fake, connected):
    from racks import sync
    from racks.drivers import driver_for

    app = driver_for(connected).create_app(connected, "web")
    wait_for(fake.settled, what="the rack finished what it started")
    build = driver_for(connected).start_build(app, source=tarball_source())
    wait_for(lambda: sync.follow_build_step(build.id) is None)
    release = app.releases.get()
    client = client_for(member)
    base = f"/api/v1/racks/{connected.pk}/apps/web/"
    assert client.post(base + f"releases/{release.id}/promote/", {"force": True},
                       format="json").status_code == 200
    assert fake.requests[-1].form == {"force": "true"}
    wait_for(fake.settled, what="the rack finished what it started")
    scaled = client.post(base + "scale/", {"process": "web", "count": 150, "cpu": 512,
                                           "memory": 2048}, format="json")
    assert scaled.status_code == 200
    assert scaled.json() == [{"process": "web", "count": 150, "cpu": 512, "memory": 2048}]


@pytest.mark.parametrize("role", ["member", "viewer", "admin"])
def test_disconnecting_by_role(people, client_for, fake, connected, role):
    response = client_for(people[role]).delete(f"/api/v1/racks/{connected.pk}/")
    assert response.status_code == {"member": 403, "viewer": 403, "admin": 204}[role]
    assert bool(fake.webhooks()) == (role != "admin")


def test_updating_a_v3_rack_is_a_clear_400(owner, client_for, start_fake, org):
    from racks.connect import connect_rack

    fake = start_fake(generation=3)
    rack = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner).rack
    response = client_for(owner).patch(f"/api/v1/racks/{rack.pk}/", {"version": "3.25.0"},
                                       format="json")
    assert response.status_code == 400 and "v3 rack cannot be updated" in \
        response.json()["error"]


def test_a_source_over_its_cap_is_refused(member, client_for, fake, connected, settings):
    from console.body_limit import OTHER_LIMIT, limit_for

    settings.SOURCE_UPLOAD_MAX_BYTES = 10
    assert limit_for(f"/api/v1/uploads/racks/{connected.pk}/apps/web/builds/") == 10
    assert limit_for(f"/uploads/racks/{connected.pk}/apps/web/builds/") == 10
    assert limit_for(f"/api/v1/racks/{connected.pk}/apps/web/builds/") == OTHER_LIMIT
    App.objects.create(rack=connected, name="web")
    response = client_for(member).post(
        f"/api/v1/uploads/racks/{connected.pk}/apps/web/builds/", tarball(),
        content_type="application/octet-stream")
    assert response.status_code == 400
    assert "SOURCE_UPLOAD_MAX_BYTES" in response.json()["error"]
    assert not [r for r in fake.requests if "/objects/" in r.path]
