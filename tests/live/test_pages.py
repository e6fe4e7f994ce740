"""The dashboard pages, seen by each role, an outsider and an anonymous visitor."""

import re

import pytest
from django.test import Client

from notifications.models import FeedEntry, Notification
from racks.local import LocalRack
from racks.models import App, Build, BuildStatus, Release
from tests.conftest import PASSWORD
from tests.helpers import wait_for

ROLES = ["owner", "admin", "member", "viewer"]


@pytest.fixture
def demo_app(rack) -> App:
    app = LocalRack().create_app(rack, "demo")
    release = LocalRack().set_env(app, {"GREETING": "hello"})
    Build.objects.create(id="BAAAAAAAAAA", app=app, status=BuildStatus.COMPLETE,
                         logs="Cloning source\nBuild complete\n")
    release.refresh_from_db()
    return app


def page_urls(rack, app) -> list[str]:
    return ["/", "/racks/", "/organizations/", f"/organizations/{rack.organization.slug}/",
            f"/racks/{rack.pk}/", f"/racks/{rack.pk}/apps/{app.name}/",
            f"/racks/{rack.pk}/apps/{app.name}/builds/BAAAAAAAAAA/"]


@pytest.mark.parametrize("who", ROLES)
def test_every_member_reads_every_page_with_the_badge_and_nav(client_for, who, rack, demo_app):
    client = client_for(who)
    for url in page_urls(rack, demo_app):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'id="unread-badge"' in html, url
        assert "/settings/notifications/" in html and "Log out" in html, url
        assert "console/live.js" in html, url


def test_an_outsider_gets_404_for_rack_org_app_and_build(client_for, outsider, rack, demo_app):
    client = client_for("outsider")
    for url in page_urls(rack, demo_app)[3:]:
        assert client.get(url).status_code == 404, url


def test_an_anonymous_visitor_is_sent_to_log_in(client_for, rack, demo_app):
    for url in page_urls(rack, demo_app):
        response = client_for("anonymous").get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url


def test_the_rack_page_shows_its_state_and_the_ingest_url_to_members_only(client_for, owner, member,
                                                                          viewer, rack,
                                                                          demo_app):
    LocalRack().create_resource(rack, "db", "postgres")
    html = client_for("member").get(f"/racks/{rack.pk}/").content.decode()
    assert "3.24.6" in html and "3 × t3.small" in html
    assert rack.ingest_path in html
    assert ">demo</a>" in html and "<strong>db</strong>" in html
    assert "Create app" in html and "Update rack" not in html  # members act, do not manage
    assert "Update rack" in client_for("owner").get(f"/racks/{rack.pk}/").content.decode()
    viewer_html = client_for("viewer").get(f"/racks/{rack.pk}/").content.decode()
    assert rack.ingest_path not in viewer_html
    assert "Create app" not in viewer_html and "Create resource" not in viewer_html


def test_the_app_page_shows_builds_releases_and_one_line_per_deploy(client_for, member, rack,
                                                                    demo_app, celery_worker):
    release = demo_app.releases.get()
    LocalRack().promote(release)
    wait_for(lambda: FeedEntry.objects.filter(
        user=member, notification__event_type="release:deployed").exists())
    html = client_for("member").get(f"/racks/{rack.pk}/apps/demo/").content.decode()
    assert "Build complete" in html  # the build's logs
    assert f'id="release-{release.id}" class="active-release"' in html
    deploys = re.findall(r'data-deploy="(R[A-Z]{10})"', html)
    assert deploys == [release.id]
    # The promotion and its finished rolling deploy are one entry, not two.
    assert html.count(f"Promoted release {release.id}") == 1
    assert html.count(f"Finished rolling deploy of release {release.id}") == 1
    assert "Deploy of release" in html and "finished" in html


def test_a_viewer_sees_no_action_buttons_on_the_app_page(client_for, viewer, rack, demo_app):
    html = client_for("viewer").get(f"/racks/{rack.pk}/apps/demo/").content.decode()
    for button in ("Start build", "Promote", "Scale", "Save environment", "Delete app"):
        assert button not in html
    assert "GREETING" in html and "hello" not in html  # the names, never the values


def test_messages_from_racks_are_escaped(client_for, member, rack):
    LocalRack().create_app(rack, "demo")
    Notification.objects.filter(rack=rack).update(message="<script>alert(1)</script>")
    html = client_for("member").get(f"/racks/{rack.pk}/apps/demo/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_feed_page_starts_its_live_feed_at_the_newest_entry(client_for, member, rack):
    LocalRack().create_app(rack, "demo")
    newest = FeedEntry.objects.filter(user=member).order_by("-notification_id").first()
    html = client_for("member").get("/").content.decode()
    assert f'data-latest-id="{newest.notification_id}"' in html
    assert f'<option value="{rack.pk}">Acme / production</option>' in html


def test_the_organization_switcher_lists_only_my_organizations(client_for, member, outsider):
    html = client_for("member").get("/").content.decode()
    assert "<bdi>Acme</bdi></a>" in html and "Globex" not in html


def test_a_person_creates_an_organization_and_a_rack(client_for, make_user):
    client = client_for(make_user("newcomer"))
    response = client.post("/organizations/", {"name": "Initech"})
    assert response.status_code == 302 and response.url == "/organizations/initech/"
    response = client.post("/organizations/initech/", {"name": "staging"})
    assert response.status_code == 302
    assert "staging" in client.get(response.url).content.decode()


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_only_owners_and_admins_add_racks(client_for, who, org):
    response = client_for(who).post(f"/organizations/{org.slug}/", {"name": "staging"})
    assert response.status_code == 403
    assert b"Only owners and admins" in response.content
    assert not org.racks.filter(name="staging").exists()


def test_a_bad_rack_name_is_explained(client_for, owner, org):
    response = client_for("owner").post(f"/organizations/{org.slug}/", {"name": "Not OK"})
    assert response.status_code == 400  # the form again, as typed, its error beside it
    assert b"lower-case letters" in response.content and b'value="Not OK"' in response.content


def test_wrong_methods_get_405(client_for, member, rack, demo_app):
    client = client_for("member")
    assert client.post("/").status_code == 405
    assert client.get(f"/racks/{rack.pk}/apps/").status_code == 405
    assert client.get(f"/racks/{rack.pk}/apps/demo/builds/").status_code == 405


def test_register_logs_in_and_honours_registration_open(settings, db):
    client = Client()
    assert client.get("/accounts/register/").status_code == 200
    response = client.post("/accounts/register/", {
        "username": "newbie", "email": "newbie@example.com",
        "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    settings.REGISTRATION_OPEN = False
    closed = Client().post("/accounts/register/", {"username": "late"})
    assert closed.status_code == 403 and b"Registration is closed" in closed.content


def test_register_explains_a_bad_password(db):
    response = Client().post("/accounts/register/", {
        "username": "newbie", "email": "newbie@example.com",
        "password1": "123", "password2": "123"})
    assert response.status_code == 200 and b"too short" in response.content


def test_login_and_logout(member):
    client = Client()
    assert b"Log in" in client.get("/accounts/login/").content
    response = client.post("/accounts/login/", {"username": "mia", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # logging out is a POST
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
    bad = client.post("/accounts/login/", {"username": "mia", "password": "wrong"})
    assert b"didn't match" in bad.content


def test_an_unknown_release_or_build_is_404(client_for, member, rack, demo_app):
    client = client_for("member")
    assert client.get(f"/racks/{rack.pk}/apps/demo/builds/BZZZZZZZZZZ/").status_code == 404
    assert client.post(f"/racks/{rack.pk}/apps/demo/releases/RZZZZZZZZZZ/promote/"
                       ).status_code == 404
    assert client.get(f"/racks/{rack.pk}/apps/nope/").status_code == 404
    assert Release.objects.count() == 1
