"""Text from racks and from people cannot reorder the text around it: a bidirectional
control in an app's or an organization's name stays inside that name (<bdi>, dir="auto"),
and is dropped where markup cannot isolate it (<title>, <option>, a notification's line)."""

import re

import pytest
from django.test import Client

from notifications.envelope import Envelope
from notifications.pipeline import record_event
from racks import invitations
from racks.models import Invitation, Membership, Organization, Rack, Role

pytestmark = pytest.mark.django_db

RLO = "\u202e"


@pytest.fixture
def evil_org(member) -> Organization:
    # Stored before names lost their controls on the way in (racks.membership).
    evil = Organization.objects.create(name=f"Evil{RLO}Corp", slug="evil")
    Membership.objects.create(organization=evil, user=member, role=Role.OWNER)
    return evil


def test_a_notification_line_drops_the_controls_of_the_racks_words(rack):
    created = record_event(rack, Envelope(action="build:create", status="error",
                                          data={"app": f"{RLO}web", "id": "BAAAAAAAAAA"}))
    assert created.notification.message == \
        "[production] Build BAAAAAAAAAA failed for app web"
    # The app keeps its name: it is what the rack calls it.
    assert created.notification.app == f"{RLO}web"


def test_an_items_text_is_isolated_in_the_server_rendered_and_template_markup(
        client_for, member, rack):
    record_event(rack, Envelope(action="app:create", status="success", data={"app": "web"}))
    html = client_for("member").get("/").content.decode()
    # Twice each: the server's item and the <template> that feed.js clones.
    for link in ("message", "rack", "app", "object"):
        assert len(re.findall(rf'<a class="{link}" dir="auto"', html)) >= 2, link


def test_names_are_isolated_on_the_organization_rack_and_invitation_pages(
        client_for, member, owner, rack, evil_org, newbie_for_invitations):
    Rack.objects.create(organization=evil_org, name="edge")
    client = client_for("member")
    assert f"<strong><bdi>Evil{RLO}Corp</bdi></strong>" in client.get(
        "/organizations/").content.decode()
    racks = client.get("/racks/").content.decode()
    assert f"<bdi>Evil{RLO}Corp</bdi></a></td><td><a" in racks
    # A rack filter's <option> cannot hold <bdi>: the control is dropped there.
    feed = client.get("/").content.decode()
    assert ">EvilCorp (evil) / edge</option>" in feed or ">EvilCorp / edge</option>" in feed

    invitations.invite(evil_org, inviter=member, acting_role=Role.OWNER, role=Role.MEMBER,
                       username=newbie_for_invitations.username)
    page = client_for(newbie_for_invitations).get("/invitations/").content.decode()
    assert f"<strong><bdi>Evil{RLO}Corp</bdi></strong> as member" in page
    assert f"the invitation to <bdi>Evil{RLO}Corp</bdi>" in page


def test_the_claim_page_isolates_the_name_and_drops_its_controls_from_the_title(
        member, evil_org, mailoutbox):
    invitations.invite(evil_org, inviter=member, acting_role=Role.OWNER, role=Role.MEMBER,
                       email="new.person@example.com")
    invitations.send_invitation(Invitation.objects.get().pk)
    link = re.search(r"(/invitations/claim/[^/\s]+/)", mailoutbox[-1].body).group(1)
    page = Client().get(link).content.decode()
    assert "<title>Join EvilCorp · Rack Console</title>" in page
    assert f"<h1>Join <bdi>Evil{RLO}Corp</bdi></h1>" in page
    assert f"<strong><bdi>Evil{RLO}Corp</bdi></strong> as member" in page


@pytest.fixture
def newbie_for_invitations(make_user):
    return make_user("nina")
