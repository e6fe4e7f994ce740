"""Connected racks on the dashboard: owners and admins connect and disconnect, members
build from a tarball, promote (with force after a confirmation) and scale, viewers read."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from racks.models import App, Build, Rack
from tests.helpers import wait_for
from tests.live.test_actions import error_beside
from tests.racks.test_convox_driver import tarball


def flashes(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def connect_form(fake, **extra) -> dict:
    return {"name": "real", "host": fake.url, "password": fake.password, **extra}


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_connect_a_rack_from_the_organization_page(client_for, who, fake, org):
    client = client_for(who)
    page = client.get("/organizations/acme/")
    assert b"Connect a Convox rack" in page.content
    response = client.post("/organizations/acme/connect/", connect_form(fake), follow=True)
    rack = Rack.objects.get(name="real")
    assert response.redirect_chain[-1][0] == f"/racks/{rack.pk}/"
    said = flashes(response)
    assert said[0][0] == "success" and f"a v{fake.generation} rack" in said[0][1]
    assert any("webhook_signing_key=" in text for _, text in said) == (fake.generation == 3)
    assert fake.password.encode() not in response.content
    assert b"data-connected" in response.content
    if fake.generation == 3:
        assert b"data-not-reported" in response.content


@pytest.mark.parametrize("who, status", [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_others_cannot_connect(client_for, who, status, fake, org, owner):
    answer = client_for(who).post("/organizations/acme/connect/", connect_form(fake))
    assert answer.status_code == status
    assert b"Connect a Convox rack" not in client_for(who).get("/organizations/acme/").content \
        if status == 403 else True
    assert not Rack.objects.exists()


def test_a_failed_connect_says_why_on_the_page(client_for, fake, org, owner):
    response = client_for("owner").post("/organizations/acme/connect/",
                                 connect_form(fake, password="wrong-password-typed"))
    # The form comes back as it was typed, the reason atop it; never the password.
    assert response.status_code == 400
    html = response.content.decode()
    assert "The rack was not connected" in html and "refused the password" in html
    assert fake.url in html and "wrong-password-typed" not in html
    assert not Rack.objects.exists()


def test_an_unreachable_rack_is_marked_on_its_page(client_for, fake, connected, member, settings):
    from racks import sync

    settings.RACK_UNREACHABLE_AFTER = 1
    fake.stop()
    sync.run_sync(connected.pk)
    page = client_for("member").get(f"/racks/{connected.pk}/")
    assert b"data-unreachable" in page.content and b"could not be reached" in page.content
    assert b"data-unreachable" in client_for("member").get("/organizations/acme/").content


def test_a_member_builds_from_a_tarball_promotes_and_scales(client_for, fake, connected, member):
    from racks import sync

    client = client_for("member")
    client.post(f"/racks/{connected.pk}/apps/", {"name": "web"})
    wait_for(fake.settled, what="the rack finished what it started")
    page = client.get(f"/racks/{connected.pk}/apps/web/")
    assert b"data-source-build" in page.content
    response = client.post(f"/uploads/racks/{connected.pk}/apps/web/builds/",
                           {"source": SimpleUploadedFile("src.tgz", tarball()),
                            "description": "first"}, follow=True)
    assert flashes(response)[0][0] == "success", flashes(response)
    build = App.objects.get(name="web").builds.get()
    wait_for(lambda: sync.follow_build_step(build.id) is None)
    release = App.objects.get(name="web").releases.get()
    response = client.post(f"/racks/{connected.pk}/apps/web/releases/{release.id}/promote/",
                           {"force": "true"}, follow=True)
    assert flashes(response)[0][0] == "success"
    assert fake.requests[-1].form == {"force": "true"}
    wait_for(fake.settled, what="the rack finished what it started")
    response = client.post(f"/racks/{connected.pk}/apps/web/scale/",
                           {"process": "web", "count": "120", "cpu": "500"}, follow=True)
    assert flashes(response)[0] == ("success", "Scaled web to 120.")
    units = b"millicores" if fake.generation == 3 else b"CPU units"
    assert units in response.content


def test_a_refused_source_build_keeps_its_description_beside_its_error(client_for, fake,
                                                                        connected, member):
    App.objects.create(rack=connected, name="web")
    long = "a description past the limit " * 7
    response = client_for("member").post(
        f"/uploads/racks/{connected.pk}/apps/web/builds/",
        {"source": SimpleUploadedFile("src.tgz", tarball()), "description": long})
    assert response.status_code == 400
    html = response.content.decode()
    assert error_beside(html, "source-description").startswith("Ensure this value has at most")
    assert f'value="{long}"' in html
    assert not Build.objects.exists()


def test_a_viewer_sees_a_connected_rack_but_cannot_build(client_for, fake, connected, viewer):
    App.objects.create(rack=connected, name="web")
    page = client_for("viewer").get(f"/racks/{connected.pk}/apps/web/")
    assert page.status_code == 200 and b"data-source-build" not in page.content
    response = client_for("viewer").post(f"/uploads/racks/{connected.pk}/apps/web/builds/",
                                  {"source": SimpleUploadedFile("src.tgz", tarball())})
    assert response.status_code == 403


@pytest.mark.parametrize("who, status", [("member", 403), ("viewer", 403), ("admin", 302)])
def test_disconnecting_from_the_rack_page(client_for, who, status, fake, connected, admin, member,
                                         viewer):
    response = client_for(who).post(f"/racks/{connected.pk}/disconnect/")
    assert response.status_code == status
    assert Rack.objects.filter(pk=connected.pk).exists() == (status != 302)


@pytest.mark.parametrize("who, status", [("owner", 302), ("admin", 302), ("member", 403),
                                         ("viewer", 403), ("outsider", 404)])
def test_saving_the_signing_key_a_v3_rack_was_given(client_for, who, status, fake, connected, admin,
                                                     member, viewer, outsider):
    key = "ab" * 32
    response = client_for(who).post(f"/racks/{connected.pk}/signing-key/",
                             {"webhook_signing_key": key})
    assert response.status_code == status
    connected.refresh_from_db()
    assert (connected.webhook_signing_key == key) == (status == 302)


def test_a_bad_signing_key_is_said_and_not_saved(client_for, fake, connected):
    response = client_for("owner").post(f"/racks/{connected.pk}/signing-key/",
                                 {"webhook_signing_key": "nothex"})
    assert response.status_code == 400  # the page again, the reason beside the field
    assert "lower-case hex" in response.content.decode()
    connected.refresh_from_db()
    assert connected.webhook_signing_key == ""


@pytest.mark.parametrize("button", ["delete-app", "delete-resource"])
def test_a_rack_that_does_not_answer_a_button_is_said_not_a_server_error(
        client_for, fake, connected, member, button):
    from racks.drivers import driver_for

    if button == "delete-resource" and fake.generation == 3:
        pytest.skip("v3 racks have no rack resources")
    app = driver_for(connected).create_app(connected, "web")
    if fake.generation == 2:
        driver_for(connected).create_resource(connected, "db", "postgres")
    fake.stop()
    url = (f"/racks/{connected.pk}/apps/{app.name}/delete/" if button == "delete-app"
           else f"/racks/{connected.pk}/resources/db/delete/")
    response = client_for("member").post(url, follow=True)
    assert response.status_code == 200
    [(level, text)] = flashes(response)
    assert level == "error" and text
    assert App.objects.filter(pk=app.pk).exists()
