"""A webhook's page after "Send a test event", as a person clicks it: the log shows the
test's row at once and its outcome without a reload; the page passes axe with the bodies
open and fits 390 px."""

from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import Browser, expect

from notifications.delivery.endpoints import create_endpoint
from notifications.models import Delivery
from tests.conftest import PASSWORD
from tests.delivery.conftest import Answer, Receiver

NARROW = {"width": 390, "height": 844}


def test_a_test_events_outcome_shows_in_the_log_without_a_reload(
        browser: Browser, web_server, celery_worker, member, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the worker runs in this process
    cache.clear()  # the test-send throttle counts in Redis, shared with earlier tests
    receiver = Receiver()
    receiver.answer(Answer(body=b"<b>thanks</b> " + b"x" * 300, delay=1.0))
    try:
        endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
        base = web_server()
        page = browser.new_context(base_url=base, viewport=NARROW).new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", member.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        page.goto(f"/settings/webhooks/{endpoint.pk}/")
        page.click("button[value=test]")
        page.wait_for_url(f"**/settings/webhooks/{endpoint.pk}/#delivery-*")
        delivery = Delivery.objects.get(endpoint=endpoint)
        row = page.locator(f"#delivery-{delivery.pk}")
        expect(row).to_contain_text("Test event")
        page.evaluate("window.sameDocument = true")
        expect(row.locator(".pill")).to_have_text("Delivered", timeout=15_000)
        assert page.evaluate("window.sameDocument === true")  # no reload
        row.locator("summary").first.click()
        row.locator("details.bodies summary").click()
        expect(row.locator("[data-response-body]")).to_contain_text("<b>thanks</b>")
        expect(row.locator("[data-request-body]")).to_contain_text('"type":"webhook:test"')
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        assert page.evaluate("document.documentElement.scrollWidth "
                             "<= document.documentElement.clientWidth")
    finally:
        receiver.down()
