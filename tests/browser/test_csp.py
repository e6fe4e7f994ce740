"""Under the Content-Security-Policy the pages still work in a real browser: the live feed
connects (its websocket is allowed by connect-src 'self'), the API docs render, the token
page's copy button copies, and nothing is blocked."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_live_feed import logged_in_page

pytestmark = [pytest.mark.browser]


def blocked_by_policy(page: Page) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


def test_the_live_feed_and_the_api_docs_work_under_the_policy(browser, web_server, member):
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")  # waits for the socket: "live"
    blocked = blocked_by_policy(page)
    page.reload()
    expect(page.locator("#live-state")).to_have_text("live")
    page.click("text=API docs")
    page.wait_for_url(base + "/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible(timeout=15000)
    expect(page.locator("text=/api/v1/auth/ws-ticket/").first).to_be_visible()
    assert blocked == [] and errors == []


def test_a_new_token_is_copied_with_its_button(browser, web_server, member):
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    blocked = blocked_by_policy(page)
    page.goto("/settings/tokens/")
    page.fill("#id_name", "laptop")
    page.fill("#id_expires_in_days", "30")
    page.click("text=Create token")
    key = page.locator("#new-token-key").inner_text()
    page.click("button[data-copy]")
    expect(page.locator("[data-copied]")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert blocked == [] and errors == []
