"""Mark all read past what can be undone (MARK_ALL_READ_UNDO_MAX, lowered here): the feed
asks first, and says plainly what it did and that it cannot be undone."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_live_feed import ingest, logged_in_page

pytestmark = pytest.mark.browser


@pytest.fixture
def undo_max_3(monkeypatch) -> None:
    # Read by the web processes, which start after it (the test lists it first).
    monkeypatch.setenv("MARK_ALL_READ_UNDO_MAX", "3")


def test_more_than_can_be_undone_is_asked_first_and_said_plainly(undo_max_3, browser,
                                                                  web_server, member, rack):
    base = web_server()
    for n in range(3):
        ingest(base, rack, "app:create", app=f"shop-{n}")
    ingest(base, rack, "app:create", app="blog")
    ingest(base, rack, "app:create", app="blog-2")
    page, errors = logged_in_page(browser, base, "mia")
    badge = page.locator("#unread-badge")
    expect(badge).to_have_text("5")
    # Five are more than three: asked first; declined, nothing is marked (the badge
    # below says so: 3 after marking the two of "blog").
    with page.expect_event("dialog") as asked:
        page.get_by_role("button", name="Mark all read").click()
    assert asked.value.message == "Mark 5 notifications read? More than 3 cannot be undone."
    asked.value.dismiss()

    # Two (the "blog" filter) can be undone: no question, an undo.
    page.fill("input[name=app]", "blog")
    expect(page.locator("li.item")).to_have_count(2)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("[data-undo]")).to_have_text("Marked 2 notifications read. Undo")
    expect(badge).to_have_text("3")
    page.get_by_role("button", name="Undo").click()
    expect(badge).to_have_text("5")

    # Accepted: all five are marked, and the page says it cannot undo them.
    page.fill("input[name=app]", "")
    expect(page.locator("li.item")).to_have_count(5)
    with page.expect_event("dialog") as asked:
        page.get_by_role("button", name="Mark all read").click()
    asked.value.accept()
    expect(page.locator("[data-undo-text]")).to_have_text(
        "Marked 5 notifications read; too many to undo.")
    expect(page.get_by_role("button", name="Undo")).to_be_hidden()
    expect(badge).to_be_hidden()
    expect(page.locator("li.item.unread")).to_have_count(0)
    assert not errors, errors
    page.context.close()
