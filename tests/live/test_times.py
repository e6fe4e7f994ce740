"""Times on the server-rendered pages are one element, `<time class="ago">`, which
static/console/times.js shows in the reader's own zone, named, and keeps ticking; what the
server writes says the time in UTC, named, for a reader without JavaScript."""

import hashlib
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from notifications.delivery.endpoints import create_endpoint
from racks import accounts, invitations
from racks.models import Invitation, Rack, Role


@pytest.fixture
def newbie(make_user):
    return make_user("newbie")


def ticking(html: str, when) -> bool:
    iso = when.astimezone(UTC).isoformat()
    return f'<time class="ago" datetime="{iso}" title="' in html


def test_tokens_show_when_made_used_and_ending_as_ticking_times(client_for, member):
    token, _ = accounts.issue_token(member, name="laptop", days=10)
    html = client_for("member").get("/settings/tokens/").content.decode().replace("\xa0", " ")
    assert ticking(html, token.created) and ticking(html, token.expiry)
    assert f" · {token.expiry.astimezone(UTC):%Y-%m-%d %H:%M} UTC</time>" in html


def test_a_webhook_page_shows_its_times_ticking(client_for, member):
    endpoint, _ = create_endpoint(member, url="https://example.com/hook", events=[])
    since = timezone.now() - timedelta(hours=2)
    type(endpoint).objects.filter(pk=endpoint.pk).update(failing_since=since)
    html = client_for("member").get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert ticking(html, since) and "2\xa0hours ago · " in html


def test_invitations_say_when_they_expire_as_ticking_times(client_for, owner, newbie, rack,
                                                           client):
    invited = invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                                 role=Role.MEMBER, username="newbie")
    assert ticking(client_for(newbie).get("/invitations/").content.decode(),
                   invited.expires_at)
    page = client_for("owner").get(f"/organizations/{rack.organization.slug}/")
    assert ticking(page.content.decode(), invited.expires_at)
    by_email = invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                                  role=Role.MEMBER, email="new@example.com")
    Invitation.objects.filter(pk=by_email.pk).update(
        token_hash=hashlib.sha256(b"the-link").hexdigest())
    # Claimed by someone not logged in: the page still names the zone.
    assert ticking(client.get("/invitations/claim/the-link/").content.decode(),
                   by_email.expires_at)


def test_the_rack_page_says_since_when_it_is_unreachable_and_when_it_was_read(
        client_for, member, rack):
    read, since = timezone.now() - timedelta(minutes=30), timezone.now() - timedelta(minutes=5)
    Rack.objects.filter(pk=rack.pk).update(driver="convox", host="https://rack.example.com",
                                           synced_at=read, unreachable_since=since,
                                           unreachable_notified=True)
    html = client_for("member").get(f"/racks/{rack.pk}/").content.decode()
    assert ticking(html, read) and ticking(html, since)
