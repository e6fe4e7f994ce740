"""Two organizations of one name, each with a rack "production": every list a member picks
a rack from tells them apart, and the settings' override picker offers the racks' apps."""

import re

import pytest

from racks.local import LocalRack
from racks.membership import create_organization
from racks.models import Rack

pytestmark = pytest.mark.django_db


@pytest.fixture
def twin_rack(member, org) -> Rack:
    twin = create_organization(member, org.name)
    return Rack.objects.create(organization=twin, name="production")


def options(html: str, name: str) -> dict[str, str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select))


def test_the_feeds_rack_filter_tells_two_racks_of_twin_organizations_apart(
        client_for, member, rack, twin_rack):
    html = client_for("member").get("/").content.decode()
    assert options(html, "rack") == {
        str(rack.pk): "Acme (acme) / production",
        str(twin_rack.pk): f"Acme ({twin_rack.organization.slug}) / production"}


def test_racks_of_differently_named_organizations_need_no_slug(client_for, member, rack):
    other = create_organization(member, "Initech")
    theirs = Rack.objects.create(organization=other, name="production")
    html = client_for("member").get("/").content.decode()
    assert options(html, "rack") == {str(rack.pk): "Acme / production",
                                     str(theirs.pk): "Initech / production"}


def test_the_override_picker_tells_them_apart_and_offers_each_racks_apps(
        client_for, member, rack, twin_rack):
    LocalRack().create_app(rack, "web")
    LocalRack().create_app(twin_rack, "api")
    client = client_for("member")
    html = client.get("/settings/notifications/").content.decode()
    assert set(options(html, "rack").values()) == {
        "Acme (acme) / production", f"Acme ({twin_rack.organization.slug}) / production"}
    assert 'list="override-apps"' in html
    assert (f'<option value="web" label="Acme (acme) / production" data-rack="{rack.pk}">'
            in html)
    assert (f'<option value="api" label="Acme ({twin_rack.organization.slug}) / production" '
            f'data-rack="{twin_rack.pk}">' in html)
    # An override names its rack as the picker does.
    client.post("/settings/notifications/", {"form": "override", "rack": twin_rack.pk,
                                             "app": "api", "event_type": "*", "mute": "on"})
    html = client.get("/settings/notifications/").content.decode()
    assert f"<td><bdi>Acme ({twin_rack.organization.slug}) / production</bdi></td>" in html


def test_option_labels_drop_bidi_controls_of_names_stored_before(client_for, member, rack):
    rack.organization.name = "Ac\u202eme"
    rack.organization.save()
    html = client_for("member").get("/").content.decode()
    assert options(html, "rack") == {str(rack.pk): "Acme / production"}
    html = client_for("member").get("/settings/notifications/").content.decode()
    assert "\u202e" not in html.split('<select name="rack"', 1)[1].split("</select>")[0]
