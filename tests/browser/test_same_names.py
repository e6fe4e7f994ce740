"""Two organizations of one name, each with a rack "production", in Chromium: the override
picker tells the racks apart and offers the chosen rack's apps."""

import pytest
from playwright.sync_api import expect

from racks.local import LocalRack
from racks.membership import create_organization
from racks.models import Rack
from tests.browser.test_live_feed import logged_in_page

pytestmark = pytest.mark.browser


def test_the_override_picker_offers_the_chosen_racks_apps(browser, web_server, member, rack):
    twin = Rack.objects.create(organization=create_organization(member, "Acme"),
                               name="production")
    LocalRack().create_app(rack, "web")
    LocalRack().create_app(twin, "api")
    base = web_server()
    page, errors = logged_in_page(browser, base, "mia")
    page.goto("/settings/notifications/")
    offered = page.locator("#override-apps option")
    page.select_option("#overrides select[name=rack]", label="Acme (acme) / production")
    expect(offered).to_have_count(1)
    expect(offered).to_have_attribute("value", "web")
    page.select_option("#overrides select[name=rack]",
                       label=f"Acme ({twin.organization.slug}) / production")
    expect(offered).to_have_attribute("value", "api")
    page.fill("#overrides input[name=app]", "api")
    page.check("#overrides input[name=mute]")
    page.get_by_role("button", name="Add override").click()
    expect(page.locator(".message.success")).to_have_text("The override is saved.")
    expect(page.locator("#overrides td").first).to_have_text(
        f"Acme ({twin.organization.slug}) / production")
    assert not errors, errors
    page.context.close()
