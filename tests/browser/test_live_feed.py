"""End to end: a rack's event reaches the right browsers live, across web processes, and a
browser that lost its connection catches up with everything exactly once."""

import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from racks.events import app_progressed
from racks.local import LocalRack
from racks.models import App, Formation
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "dashboard.png"


def ingest(base: str, rack, action: str, status: str = "success", **data: str) -> int:
    body = {"action": action, "status": status,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": {"rack": rack.name, **data}}
    response = httpx.post(base + rack.ingest_path, json=body, timeout=10,
                          headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 202, response.text
    return response.json()["notification"]


def logged_in_page(browser: Browser, base: str, username: str) -> tuple[Page, list[str]]:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("[data-feed-end]")).not_to_have_text("Loading…")
    return page, errors


def item(page: Page, notification_id: int):
    return page.locator(f'li.item[data-id="{notification_id}"]')


def shown_ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("li.item").evaluate_all(
        "items => items.map(li => li.dataset.id)")]


def test_a_rack_event_reaches_the_member_live_and_never_another_organization(
        browser, web_server, member, outsider, rack, other_rack):
    here, there = web_server(), web_server()  # two web processes sharing Redis
    page, errors = logged_in_page(browser, here, "mia")
    stranger, stranger_errors = logged_in_page(browser, here, "oscar")
    badge = page.locator("#unread-badge")
    expect(badge).to_be_hidden()

    # Posted to the other web process; the browser is on this one.
    sent = time.monotonic()
    created = ingest(there, rack, "app:create", app="web")
    expect(item(page, created)).to_contain_text("[production] Created app web", timeout=2000)
    arrived = time.monotonic() - sent
    expect(badge).to_have_text("1")
    expect(item(page, created)).to_have_class("item sev-success unread")
    assert arrived < 2, arrived

    # The other organization's browser never hears of it, but hears of its own rack.
    theirs = ingest(there, other_rack, "app:create", app="globex-web")
    expect(item(stranger, theirs)).to_be_visible(timeout=2000)
    expect(item(stranger, created)).to_have_count(0)
    expect(item(page, theirs)).to_have_count(0)

    # Mark read: the badge follows.
    item(page, created).get_by_role("button", name="Mark read").click()
    expect(item(page, created)).not_to_have_class("item sev-success unread")
    expect(badge).to_be_hidden()

    # The connection is cut; events keep coming meanwhile (on the other process).
    page.context.set_offline(True)
    page.evaluate("window.ConsoleLive.drop()")
    expect(page.locator("#live-state")).not_to_have_text("live")
    missed = [ingest(there, rack, "release:create", id=f"R{'ABCDEFGHIJ'[i] * 10}", app="web")
              for i in range(4)]
    missed.append(ingest(there, rack, "build:create", "error", id="BQQQQQQQQQQ", app="web",
                         message="tests failed"))
    # Time for their pushes to go out to no socket of this page: only the resume below
    # can bring them.
    time.sleep(0.5)
    expect(item(page, missed[0])).to_have_count(0)
    page.context.set_offline(False)
    expect(page.locator("#live-state")).to_have_text("live", timeout=10000)
    for notification_id in missed:
        expect(item(page, notification_id)).to_have_count(1)
    expect(badge).to_have_text("5")
    ids = shown_ids(page)
    assert len(ids) == len(set(ids)), ids  # nothing doubled
    assert ids == sorted([created, *missed], reverse=True)  # newest first, nothing missing
    expect(item(page, missed[-1])).to_have_class("item sev-error unread")
    expect(item(page, missed[-1]).locator("a.object")).to_have_attribute(
        "href", f"/racks/{rack.pk}/apps/web/builds/BQQQQQQQQQQ/")
    assert item(page, created).locator("time").get_attribute("title")

    # A reload shows the same feed from the API: the live view was not making things up.
    page.reload()
    expect(page.locator("[data-feed-end]")).to_have_text("That is everything.")
    assert shown_ids(page) == ids

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert not errors and not stranger_errors, errors + stranger_errors
    page.context.close()
    stranger.context.close()


def test_filters_mark_all_read_and_infinite_scroll(browser, web_server, member, rack):
    base = web_server()
    ids = [ingest(base, rack, "app:create", app=f"app-{i}") for i in range(60)]
    failed = ingest(base, rack, "build:create", "error", id="BFFFFFFFFFF", app="app-1")
    page, errors = logged_in_page(browser, base, "mia")
    expect(page.locator("#unread-badge")).to_have_text("61")
    # Keyboard: the first Tab stop skips to the content; the organization switcher opens
    # with Enter and arrows do not navigate.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("select[name=rack]")).to_be_focused()
    # Past the filters, the items: each one's link, then its links and its Mark read.
    for _ in range(6):
        page.keyboard.press("Tab")
    expect(page.locator("li.item").first.locator("a.message")).to_be_focused()
    for _ in range(5):  # its rack, app and build links come first
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('toggle-read')"):
            break
    expect(page.locator("li.item").first.locator(".toggle-read")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("li.item").first).to_have_attribute("data-read", "true")
    expect(page.locator("#unread-badge")).to_have_text("60")
    page.keyboard.press("Enter")
    expect(page.locator("#unread-badge")).to_have_text("61")
    here = page.url
    page.locator(".org-switcher summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    expect(page.locator(".org-switcher")).to_have_attribute("open", "")
    assert page.url == here
    page.keyboard.press("Enter")
    # The first page holds 50; scrolling brings the rest, in order, once each.
    page.locator("[data-sentinel]").scroll_into_view_if_needed()
    expect(page.locator("[data-feed-end]")).to_have_text("That is everything.")
    assert shown_ids(page) == sorted([*ids, failed], reverse=True)

    # Event types are the catalogue's; the filter lives in the URL, so a reload keeps it.
    page.select_option("select[name=event_type]", label="Build failed")
    expect(page.locator("li.item")).to_have_count(1)
    expect(item(page, failed)).to_contain_text("Build BFFFFFFFFFF failed for app app-1")
    assert page.url.endswith("/?event_type=build%3Afailed")
    # Context on the item: severity in words, where it came from, the exact time in the
    # browser's zone, named, beside the relative one, and a heading for its day.
    expect(item(page, failed)).to_contain_text("✕ Error")
    expect(item(page, failed)).to_contain_text("from the rack")
    expect(item(page, failed).locator("time")).to_have_text(
        re.compile(r"^just now · .*\d{2}:\d{2}.*(UTC|GMT)"))
    expect(page.locator("li.day")).to_have_count(1)
    expect(item(page, failed).locator(".toggle-read")).to_have_attribute(
        "aria-label", "Mark read: [production] Build BFFFFFFFFFF failed for app app-1")
    page.reload()
    expect(page.locator("li.item")).to_have_count(1)
    page.select_option("select[name=status]", "success")
    expect(page.locator("[data-feed-end]")).to_have_text("Nothing matches these filters.")
    page.get_by_role("link", name="Clear the filters").click()
    page.wait_for_url(base + "/")
    expect(page.locator("[data-feed-end]")).to_have_text("Loading more…")
    page.select_option("select[name=status]", "error")
    expect(page.locator("li.item")).to_have_count(1)
    # A live event that does not match the filter stays out of this view.
    ingest(base, rack, "app:create", app="late")
    late_error = ingest(base, rack, "release:promote", "error", id="RZZZZZZZZZZ", app="late",
                        message="unhealthy")
    expect(item(page, late_error)).to_be_visible()
    expect(page.locator("li.item")).to_have_count(2)

    page.select_option("select[name=status]", "")
    page.fill("input[name=app]", "app-7")
    page.locator("input[name=app]").dispatch_event("change")
    expect(page.locator("li.item")).to_have_count(1)

    # Opening an item marks it read (the server's mark-on-open view), and undo is offered
    # for a mark-all-read that marks only what the filters show.
    seven = page.locator("li.item").first
    seven.locator("a.message").click()
    page.wait_for_url("**/apps/app-7/")
    page.go_back()
    expect(page.locator("#unread-badge")).to_have_text("62")
    page.fill("input[name=app]", "app-7")
    page.locator("input[name=app]").dispatch_event("change")
    expect(page.locator("li.item")).to_have_count(1)
    expect(page.locator("li.item").first).to_have_attribute("data-read", "true")
    # The app filter finds names containing it, in any case.
    page.fill("input[name=app]", "APP-")
    page.locator("input[name=app]").dispatch_event("change")
    expect(page.locator("li.item")).to_have_count(50)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("[data-undo]")).to_have_text("Marked 60 notifications read. Undo")
    expect(page.locator("#unread-badge")).to_have_text("2")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#unread-badge")).to_have_text("62")

    # Under "Unread only", an item marked read leaves the list.
    page.fill("input[name=app]", "")
    page.check("input[name=unread]")
    expect(page.locator("li.item")).to_have_count(50)
    first = page.locator("li.item").first
    first_id = first.get_attribute("data-id")
    first.locator(".toggle-read").click()
    expect(page.locator(f"li.item[data-id='{first_id}']")).to_have_count(0)
    expect(page.locator("#unread-badge")).to_have_text("61")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#unread-badge")).to_be_hidden()
    expect(page.locator("[data-feed-end]")).to_have_text("Nothing matches these filters.")
    expect(page.get_by_role("link", name="Clear the filters")).to_be_visible()
    assert not errors, errors
    page.context.close()


def test_a_viewer_sees_the_rack_but_no_buttons_and_a_member_starts_a_failing_build(
        browser, web_server, member, viewer, rack, celery_worker, settings):
    # Builds run in this process' worker: long enough to be watched as they go.
    settings.LOCAL_RACK_BUILD_SECONDS = 2
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")
    page.goto(f"/racks/{rack.pk}/")
    page.fill("#app-name", "shop")
    page.get_by_role("button", name="Create app").click()
    expect(page.locator(".message.success")).to_have_text("Created the app shop.")
    page.get_by_role("link", name="shop", exact=True).first.click()
    page.check("input[name=fail]")
    page.get_by_role("button", name="Start build").click()
    expect(page.locator(".message.success")).to_contain_text("Started build B")
    # The build fails in a Celery worker: the app page shows it as it goes, without a
    # reload, and its timeline and the header badge hear of the failure.
    build = page.locator("details.build").first
    expect(build.locator("[data-build-status]")).to_have_text("failed", timeout=10000)
    expect(build.locator("[data-build-logs]")).to_contain_text(
        "Cloning source\nReading convox.yml")
    expect(build.locator("[data-build-logs]")).to_contain_text("ERROR: tests failed")
    expect(page.locator("[data-live-part=timeline]")).to_contain_text("failed",
                                                                     timeout=10000)
    expect(page.locator("#unread-badge")).to_have_text("2")

    # A build's own page follows it to its end, logs included, without a reload.
    page.get_by_role("button", name="Start build").click()
    page.locator("details.build").first.get_by_role("link").click()
    expect(page.locator("[data-build-status]")).to_have_text("running", timeout=5000)
    expect(page.locator("[data-build-logs]")).to_contain_text("Running tests")
    expect(page.locator("[data-build-status]")).to_have_text("complete", timeout=10000)
    expect(page.locator("[data-build-logs]")).to_contain_text("Build complete: release R")
    assert page.locator("[data-build-logs]").inner_text().count("Cloning source") == 1
    page.go_back()

    watcher, watcher_errors = logged_in_page(browser, base, "victor")
    watcher.goto(f"/racks/{rack.pk}/apps/shop/")
    expect(watcher.locator("text=ERROR: tests failed")).to_be_attached()
    expect(watcher.get_by_role("button", name="Start build")).to_have_count(0)
    assert not errors and not watcher_errors
    page.context.close()
    watcher.context.close()


def test_the_app_page_shows_a_new_status_and_formation_without_a_reload(
        browser, web_server, viewer, rack):
    app = LocalRack().create_app(rack, "shop")
    base = web_server()
    page, errors = logged_in_page(browser, base, "victor")
    page.goto(f"/racks/{rack.pk}/apps/shop/")
    expect(page.locator("[data-live-part=formation]")).to_contain_text("Nothing scaled yet.")
    # What a sync of a connected rack finds, told as it tells it (racks.events).
    App.objects.filter(pk=app.pk).update(status="updating")
    Formation.objects.create(app=app, process="web", count=4)
    app.status = "updating"
    app_progressed(app)
    expect(page.locator("[data-app-status]")).to_have_text("updating")
    expect(page.locator("[data-live-part=formation]")).to_contain_text("web: 4 ×")
    assert not errors, errors
    page.context.close()
