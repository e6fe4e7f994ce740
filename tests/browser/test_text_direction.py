"""Text direction in Chromium: a right-to-left override in an organization's name stays
inside the name, and what follows it reads in order; items the feed adds live are
isolated as the server's are."""

import pytest
from playwright.sync_api import Page, expect

from racks.models import Membership, Organization, Role
from tests.browser.test_live_feed import ingest, item, logged_in_page

pytestmark = pytest.mark.browser

# Where the first and the last letter of an element's text are drawn, left to right.
ENDS = """element => {
  const text = element.firstChild, range = document.createRange();
  const left = i => { range.setStart(text, i); range.setEnd(text, i + 1);
                      return range.getClientRects()[0].left; };
  return [left(0), left(text.length - 1)];
}"""


def reads_in_order(page: Page, selector: str) -> bool:
    first, last = page.locator(selector).first.evaluate(ENDS)
    return first < last


def test_an_override_in_a_name_does_not_reverse_what_follows(browser, web_server, member,
                                                             rack):
    evil = Organization.objects.create(name="Evil\u202eCorp", slug="evil")
    Membership.objects.create(organization=evil, user=member, role=Role.OWNER)
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")
    page.goto("/organizations/")
    role = page.locator(".card .muted", has_text="you are owner")
    expect(role).to_have_count(1)
    assert reads_in_order(page, ".card .muted >> text=you are owner")

    # An item the feed adds live is isolated as the server's are.
    page.goto("/")
    expect(page.locator("#live-state")).to_have_text("live")
    arrived = ingest(base, rack, "app:create", app="web")
    expect(item(page, arrived).locator("a.message")).to_have_attribute("dir", "auto")
    expect(item(page, arrived).locator("a.app")).to_have_attribute("dir", "auto")
    assert not errors, errors
    page.context.close()
