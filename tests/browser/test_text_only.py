"""Whatever a rack puts in an event, the browser shows it as text: no markup, no script."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_live_feed import ingest, item, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.reliability]

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def test_html_in_an_event_is_shown_as_text_live_and_after_reload(browser, web_server,
                                                                    member, rack):
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")
    live_id = ingest(base, rack, "app:create", name=HOSTILE, app=HOSTILE)
    shown = item(page, live_id)
    expect(shown).to_contain_text(f"[production] Created app {HOSTILE}", timeout=5000)
    assert shown.locator("img, script").count() == 0
    page.reload()
    expect(item(page, live_id)).to_contain_text(f"Created app {HOSTILE}")
    assert page.locator("li.item img, li.item script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert errors == []
