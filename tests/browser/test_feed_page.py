"""The feed as the server renders it: read without JavaScript, page by page and filtered;
with JavaScript, the items that arrive later are the same markup as the server's."""

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_live_feed import ingest, item, logged_in_page, shown_ids
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# Each element of an item, as tag, classes and the alternative it is (severity, source,
# object): the structure to compare, whatever the text.
STRUCTURE = """li => [li.className].concat(Array.from(li.querySelectorAll('*')).map(e =>
    e.tagName + '.' + e.className + ':' + (e.dataset.severity || e.dataset.source ||
                                           e.dataset.object || '')))"""


def logged_in_without_script(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, java_script_enabled=False)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return page


def test_without_javascript_the_feed_reads_filters_and_pages(browser, web_server, member,
                                                               rack):
    base = web_server()
    made = [ingest(base, rack, "app:create", app=f"app-{i}") for i in range(55)]
    failed = ingest(base, rack, "build:create", "error", id="BFFFFFFFFFF", app="app-1",
                    actor="alice")
    page = logged_in_without_script(browser, base, "mia")
    newest_first = sorted([*made, failed], reverse=True)
    assert shown_ids(page) == newest_first[:50]
    expect(item(page, failed)).to_contain_text("✕ Error")
    expect(item(page, failed)).to_contain_text("by alice")
    expect(item(page, failed).locator("time")).to_contain_text("UTC")
    expect(page.locator("li.day")).to_have_count(1)
    # Script-only buttons stay out of the way.
    expect(page.get_by_role("button", name="Mark all read")).to_be_hidden()
    expect(item(page, failed).locator(".toggle-read")).to_be_hidden()

    page.get_by_role("link", name="Older notifications").click()
    expect(page.locator("[data-feed-end]")).to_have_text("That is everything.")
    assert shown_ids(page) == newest_first[50:]

    page.goto("/")
    page.select_option("select[name=event_type]", label="Build failed")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?*event_type=build%3Afailed*")
    assert shown_ids(page) == [failed]
    expect(page.locator("select[name=event_type]")).to_have_value("build:failed")
    page.context.close()


def test_a_live_item_is_the_same_markup_as_one_the_server_rendered(browser, web_server,
                                                                   member, rack):
    base = web_server()
    served = ingest(base, rack, "build:create", "error", id="BAAAAAAAAAA", app="shop",
                    actor="alice")
    page, errors = logged_in_page(browser, base, "mia")
    # The server's item is taken over, not drawn again.
    assert shown_ids(page) == [served]
    expect(page.locator("[data-feed-end]")).to_have_text("That is everything.")
    arrived = ingest(base, rack, "build:create", "error", id="BBBBBBBBBBB", app="shop",
                     actor="bob")
    expect(item(page, arrived)).to_contain_text("by bob")
    assert shown_ids(page) == [arrived, served]
    assert item(page, arrived).evaluate(STRUCTURE) == item(page, served).evaluate(STRUCTURE)
    expect(item(page, arrived).locator("a.object")).to_have_attribute(
        "href", f"/racks/{rack.pk}/apps/shop/builds/BBBBBBBBBBB/")
    expect(item(page, arrived).locator("a.app")).to_have_attribute(
        "href", f"/racks/{rack.pk}/apps/shop/")
    expect(item(page, arrived).locator("a.rack")).to_have_attribute("href", f"/racks/{rack.pk}/")
    # The server's item works as the script's: marked read from its button.
    item(page, served).get_by_role("button", name="Mark read").click()
    expect(item(page, served)).to_have_attribute("data-read", "true")
    expect(page.locator("#unread-badge")).to_have_text("1")
    assert not errors, errors
    page.context.close()
