"""A rack's page in Chromium: its 30-day activity redraws live when the rack has a new
notification, whether or not the reader's feed holds it."""

import pytest
from playwright.sync_api import expect

from notifications.preferences import set_preference
from tests.browser.test_live_feed import ingest, logged_in_page

pytestmark = pytest.mark.browser


def test_the_rack_pages_activity_follows_the_racks_notifications_live(
        browser, web_server, member, rack):
    base = web_server()
    ingest(base, rack, "app:create", app="web")
    page, errors = logged_in_page(browser, base, "mia")
    page.goto(f"/racks/{rack.pk}/")
    expect(page.locator("#live-state")).to_have_text("live")
    chart = page.locator("[data-live-part=activity] svg > title")
    expect(chart).to_contain_text("1 event in the last 30 days")

    # The table someone opened stays open as it is redrawn.
    page.get_by_text("Activity as a table").click()
    ingest(base, rack, "build:create", "error", app="web", id="BAAAAAAAAAA")
    expect(chart).to_contain_text("2 events in the last 30 days")
    expect(page.locator("[data-live-part=activity] rect.sev-error")).to_have_count(1)
    expect(page.locator("[data-live-part=activity] tbody td").nth(2)).to_have_text("1")
    expect(page.locator("[data-live-part=activity] tbody td").nth(2)).to_be_visible()
    # Muted: the member's feed does not hold the next one, but the rack's activity does.
    set_preference(member, event_type="*", channels=[])
    ingest(base, rack, "app:create", app="api")
    expect(chart).to_contain_text("3 events in the last 30 days")
    assert not errors, errors
    page.context.close()
