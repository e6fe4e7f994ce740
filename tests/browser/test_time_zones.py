"""Times in the reader's time zone: the server writes the feed's times and day headings in
UTC, each <time> with its moment, and the browser writes them again in its own zone."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from notifications.models import Notification
from tests.browser.test_live_feed import ingest, item
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# UTC+14 all year: 11:00 UTC is 01:00 the next day there.
ZONE = "Pacific/Kiritimati"


def test_times_and_day_headings_are_in_the_browsers_zone(browser, web_server, member, rack):
    base = web_server()
    notification_id = ingest(base, rack, "app:create", app="web")
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    Notification.objects.filter(pk=notification_id).update(
        created_at=datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC))
    context = browser.new_context(base_url=base, timezone_id=ZONE, locale="en-US")
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")

    there = day + timedelta(days=1)
    heading = page.locator("li.day time")
    expect(heading).to_have_text(f"{there:%A}, {there:%B} {there.day}, {there.year}")
    expect(heading).to_have_attribute("datetime", there.isoformat())
    time = item(page, notification_id).locator("time")
    expect(time).to_contain_text(f"{there:%b} {there.day}, {there.year}, 01:00 AM GMT+14")
    expect(time).not_to_contain_text("UTC")
    assert "UTC" not in time.get_attribute("title")
    context.close()
