"""Every page the console renders from its own templates, in one pass per colour scheme:
axe finds no violation, and at 390 px wide no page scrolls sideways.

/admin/ and /api/docs/ (Swagger's) are out of scope. One browser context per scheme keeps
this to two passes (CI time).
"""

import hashlib
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Browser

from notifications.delivery.endpoints import create_endpoint
from notifications.envelope import Envelope
from notifications.pipeline import record_event
from racks import invitations
from racks.local import LocalRack
from racks.models import Build, Invitation, Role, new_object_id
from tests.conftest import PASSWORD

NARROW = {"width": 390, "height": 844}
BACKGROUND = {"light": "rgb(246, 247, 249)", "dark": "rgb(17, 21, 28)"}
# The README's pictures of a phone-sized feed, in each scheme.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pages_of(rack, owner) -> tuple[list[str], list[str]]:
    """(anonymous pages, pages of a logged-in owner), with something on each."""
    invited = invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                                 role=Role.MEMBER, email="new@example.com")
    Invitation.objects.filter(pk=invited.pk).update(
        token_hash=hashlib.sha256(b"the-link").hexdigest())
    endpoint, _ = create_endpoint(owner, url="https://hooks.example.com/rack-console",
                                  events=["*"], description="ops channel")
    reset = (f"/accounts/reset/{urlsafe_base64_encode(force_bytes(owner.pk))}/"
             f"{default_token_generator.make_token(owner)}/")
    app = LocalRack().create_app(rack, "a-long-application-name-that-goes-on-and-on-for-63-chars")
    LocalRack().set_env(app, {"GREETING": "hello"})
    build = Build.objects.create(id=new_object_id("B"), app=app, description="first",
                                 logs="Cloning source\n")
    record_event(rack, Envelope(action="build:create", status="error",
                                data={"app": app.name, "id": build.id}))
    app_page = f"/racks/{rack.pk}/apps/{app.name}/"
    return (["/accounts/login/", "/accounts/register/", "/accounts/password_reset/",
             "/accounts/password_reset/done/", reset, "/accounts/reset/done/",
             "/invitations/claim/the-link/"],
            ["/", "/racks/", f"/racks/{rack.pk}/", app_page,
             f"{app_page}builds/{build.id}/", "/organizations/",
             f"/organizations/{rack.organization.slug}/", "/invitations/",
             "/settings/tokens/", "/settings/notifications/", "/settings/webhooks/",
             f"/settings/webhooks/{endpoint.pk}/"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_and_fits_390_px(browser: Browser, web_server, owner, rack,
                                                scheme):
    base = web_server()
    anonymous, logged_in = pages_of(rack, owner)
    context = browser.new_context(base_url=base, viewport=NARROW, color_scheme=scheme)
    page = context.new_page()
    axe = Axe()
    problems: list[str] = []
    shown: dict[str, str] = {}  # each path's h1: the page meant, not an error page

    def check(path: str | None) -> None:
        """The page at `path`, or the one shown now (None)."""
        if path is not None:
            page.goto(path)
        page.wait_for_load_state("networkidle")
        path = path or page.url
        shown[path] = page.locator("h1").first.inner_text()
        results = axe.run(page)
        if results.violations_count:
            problems.append(f"{path}: {results.generate_report()}")
        wide = page.evaluate("[document.documentElement.scrollWidth, "
                             "document.documentElement.clientWidth]")
        if wide[0] > wide[1]:
            # The innermost elements past the edge: what to fix.
            culprits = page.evaluate(
                "Array.from(document.querySelectorAll('body *'))"
                ".filter(e => e.getBoundingClientRect().right > "
                "document.documentElement.clientWidth + 1 && e.children.length === 0)"
                ".slice(0, 4).map(e => e.tagName + '.' + e.className + ' ' + "
                "(e.textContent || '').slice(0, 30))")
            problems.append(f"{path}: {wide[0]} px wide in a {wide[1]} px window: {culprits}")

    for path in anonymous:
        check(path)
    # The reset and claim links were good ones: their forms were checked, not an error.
    assert shown[anonymous[6]].startswith("Join ")
    page.goto(anonymous[4])
    assert page.locator("#id_new_password1").count() == 1
    page.goto("/accounts/login/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    for path in logged_in:
        check(path)
    # An action form refused: the typed input kept, the error beside its field.
    page.goto(logged_in[3])
    page.fill("#env-env", "GREETING=hello\nno equals sign")
    page.get_by_role("button", name="Save environment").click()
    page.wait_for_selector("#env-env_error")
    check(None)
    # The scheme is the one asked for (the page follows prefers-color-scheme).
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == \
        BACKGROUND[scheme]
    page.goto("/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"narrow-{scheme}.png"))
    context.close()
    assert not problems, "\n\n".join(problems)
