"""The header on every page: a skip link, and an organization switcher that is a list of
links (nothing navigates while the keyboard moves through it), with twins told apart."""

import pytest

from racks.local import LocalRack
from racks.membership import create_organization

pytestmark = pytest.mark.django_db


def test_every_page_starts_with_a_skip_link_to_the_content(client_for, member):
    html = client_for("member").get("/racks/").content.decode()
    assert html.index('<a class="skip-link" href="#main">Skip to content</a>') < \
        html.index("<header")
    assert '<main id="main" tabindex="-1">' in html


def test_two_organizations_of_one_name_are_told_apart_in_the_switcher(client_for, member, org):
    twin = create_organization(member, org.name)
    html = client_for("member").get("/").content.decode()
    assert f'<bdi>{org.name}</bdi> <span class="muted">({org.slug})</span>' in html
    assert f'<bdi>{twin.name}</bdi> <span class="muted">({twin.slug})</span>' in html
    assert "data-switch-org" not in html and '<details class="org-switcher">' in html


def test_bidi_controls_are_dropped_from_names_and_descriptions(client_for, member, rack):
    org = create_organization(member, "Evil\u202eCorp\u2066")
    assert org.name == "EvilCorp"
    app = LocalRack().create_app(rack, "web")
    build = LocalRack().start_build(app, description="fix \u202etxt.exe")
    assert build.description == "fix txt.exe"
    html = client_for("member").get(f"/organizations/{org.slug}/").content.decode()
    assert "<h1><bdi>EvilCorp</bdi> <span" in html


def test_the_ingest_url_has_a_copy_button(client_for, member, rack):
    html = client_for("member").get(f"/racks/{rack.pk}/").content.decode()
    assert 'data-copy="#ingest-url"' in html and "console/copy.js" in html
