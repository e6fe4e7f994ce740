"""The rack and app pages show the rack's and the app's history to every member, whenever
they joined; the dashboard's feed stays each member's own."""

import re

import pytest
from django.test import Client

from notifications.envelope import Envelope
from notifications.models import FeedEntry, Notification
from racks.intake.receive import receive_event
from racks.models import Membership, Role

ROLES = ["owner", "admin", "member", "viewer"]
UNREAD = re.compile(r'class="item[^"]* unread"')
BUILDS = [f"B{letter * 10}" for letter in "ABCDEFGHJ"]


def rack_event(rack, action: str, status: str = "success", **data: str) -> Notification:
    return receive_event(rack, Envelope(action=action, status=status, data=data)).notification


@pytest.fixture
def web_app_history(owner, rack) -> list[Notification]:
    """The app web, created and built nine times before anyone else joined."""
    made = [rack_event(rack, "app:create", app="web")]
    made += [rack_event(rack, "build:create", app="web", id=build) for build in BUILDS]
    return made


@pytest.fixture
def late(make_user, org, client_for):
    """A browser of someone who joins the organization now, with the given role."""
    def join(role: str) -> Client:
        user = make_user(f"late-{role}")
        Membership.objects.create(organization=org, user=user, role=Role(role))
        return client_for(user)
    return join


@pytest.mark.parametrize("role", ROLES)
def test_a_late_member_sees_the_apps_timeline(web_app_history, late, rack, role):
    html = late(role).get(f"/racks/{rack.pk}/apps/web/").content.decode()
    assert "Nothing has happened to web yet." not in html
    for build in BUILDS:
        assert f"[production] Build {build} completed for app web" in html
    assert "[production] Created app web" in html
    assert not UNREAD.search(html)  # none of it is waiting in their feed


def test_the_timeline_marks_unread_what_is_unread_in_the_readers_feed(owner, rack, client_for):
    created = rack_event(rack, "app:create", app="web")
    assert FeedEntry.objects.filter(user=owner, notification=created, read=False).exists()
    html = client_for("owner").get(f"/racks/{rack.pk}/apps/web/").content.decode()
    assert len(UNREAD.findall(html)) == 1
    FeedEntry.objects.filter(user=owner).update(read=True)
    page = client_for("owner").get(f"/racks/{rack.pk}/apps/web/")
    assert not UNREAD.search(page.content.decode())


def test_the_timeline_says_each_items_severity_in_words_not_only_colour(rack, client_for):
    rack_event(rack, "app:create", app="web")
    rack_event(rack, "build:create", "error", app="web", id=BUILDS[0])
    html = client_for("member").get(f"/racks/{rack.pk}/apps/web/").content.decode()
    failed = html[html.index(f"Build {BUILDS[0]} failed") - 300:]
    assert '<span class="severity" data-severity="error">✕ Error</span>' in failed[:400]
    assert '<span class="severity" data-severity="success">✓ Success</span>' in html


@pytest.mark.parametrize("role", ROLES)
def test_the_rack_page_lists_the_racks_history_not_the_readers_feed(web_app_history, late,
                                                                    rack, role):
    html = late(role).get(f"/racks/{rack.pk}/").content.decode()
    assert f'data-list="/api/v1/racks/{rack.pk}/notifications/"' in html


def test_the_history_the_rack_page_loads_answers_a_late_member(web_app_history, late, rack):
    browser = late("viewer")
    page = browser.get(f"/api/v1/racks/{rack.pk}/notifications/").json()
    assert len(page["results"]) == len(web_app_history)


def test_the_dashboard_feed_reads_the_members_own_feed(web_app_history, late):
    html = late("member").get("/").content.decode()
    assert 'data-api="/api/v1/notifications/"' in html and "data-list=" not in html


def test_outsiders_get_404_for_the_rack_and_app_pages(web_app_history, client_for, outsider, rack):
    browser = client_for("outsider")
    for url in (f"/racks/{rack.pk}/", f"/racks/{rack.pk}/apps/web/"):
        response = browser.get(url)
        assert response.status_code == 404 and b"Created app web" not in response.content
