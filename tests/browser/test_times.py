"""Times on the server-rendered pages show in the browser's own zone, the zone named,
logged in or not (static/console/times.js)."""

import hashlib
import re

import pytest
from playwright.sync_api import Browser, expect

from racks import accounts, invitations
from racks.models import Invitation, Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

TOKYO = re.compile(r"(GMT\+9|JST)$")


def test_times_are_in_the_readers_zone_logged_in_or_not(browser: Browser, web_server, owner,
                                                         rack):
    invited = invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                                 role=Role.MEMBER, email="new@example.com")
    Invitation.objects.filter(pk=invited.pk).update(
        token_hash=hashlib.sha256(b"the-link").hexdigest())
    accounts.issue_token(owner, name="laptop", days=10)
    base = web_server()
    context = browser.new_context(base_url=base, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto("/invitations/claim/the-link/")
    expect(page.locator("time.ago")).to_have_text(re.compile(r"^in \d+ days · .*"))
    expect(page.locator("time.ago")).to_have_text(TOKYO)
    page.goto("/accounts/login/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    page.goto("/settings/tokens/")
    made = page.locator("tr[data-token-id] time.ago").first
    expect(made).to_have_text(re.compile(r"^just now · "))
    expect(made).to_have_text(TOKYO)
    context.close()
