"""Every page carries a Content-Security-Policy that allows no inline script or style, and
no page has any: scripts are files, page data sits in data attributes."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.live.test_pages import demo_app, page_urls  # noqa: F401 (a fixture)


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, event handler attributes,
    style attributes and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            kind = dict(attrs).get("type") or ""
            # json_script's data block is not run, and the CSP does not block it.
            self._in_script = "src" not in names and kind != "application/json"
        if tag == "style":
            self.found.append("<style>")
        for name in names:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}</script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def assert_strict_policy(response) -> None:
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"  # same-host ws: and wss: included
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_the_finder_finds_inline_code():
    assert len(inline_code('<script>alert(1)</script><a onclick="x()" style="color:red">'
                           '</a><style>p{}</style><script src="/a.js"></script>')) == 4


def test_a_members_pages_carry_the_policy_and_no_inline_code(client_for, member, rack,
                                                             demo_app):  # noqa: F811
    client = client_for(member)
    for url in [*page_urls(rack, demo_app), "/settings/notifications/", "/settings/webhooks/",
                "/settings/tokens/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert inline_code(response.content.decode()) == [], url


def test_a_new_token_is_shown_without_inline_code(client_for, member):
    client = client_for(member)
    response = client.post("/settings/tokens/", {"create": "1", "name": "ci",
                                                 "expires_in_days": "30"})
    assert response.status_code == 200
    assert 'data-copy="#new-token-key"' in response.content.decode()
    assert inline_code(response.content.decode()) == []


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/register/",
                                 "/accounts/password_reset/", "/admin/login/", "/api/docs/"])
def test_pages_for_anyone_carry_the_policy_and_no_inline_code(db, url):
    response = Client().get(url)
    assert response.status_code == 200
    assert_strict_policy(response)
    assert inline_code(response.content.decode()) == [], url


def test_the_api_docs_start_from_a_script_file(db):
    page = Client().get("/api/docs/").content.decode()
    assert "/api/docs/?script=" in page
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
