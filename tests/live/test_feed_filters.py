"""The feed's filters: the catalogue's event types, in the query string, and an empty
result that offers to clear them."""

import pytest

from notifications.envelope import Envelope
from notifications.pipeline import record_event
from racks.models import Membership, Role

pytestmark = pytest.mark.django_db


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


def test_the_event_filter_lists_the_catalogues_event_types(client_for, member, rack):
    page = client_for("member").get("/").content.decode()
    assert '<option value="build:failed">Build failed</option>' in page
    assert 'value="build:create"' not in page, "raw actions are not offered"


def test_filters_in_the_query_string_are_chosen_on_the_page(client_for, member, rack):
    page = client_for("member").get(f"/?rack={rack.pk}&app=Sh&event_type=build:failed&unread=true")
    html = page.content.decode()
    assert f'<option value="{rack.pk}" selected>' in html
    assert 'name="app" type="text" placeholder="any app" size="12" value="Sh"' in html
    assert '<option value="build:failed" selected>Build failed</option>' in html
    assert 'name="unread" value="true" checked' in html
    assert '<a href="/">Clear the filters</a>' in html


def test_a_rack_page_keeps_its_filters_too(client_for, member, rack):
    html = client_for("member").get(f"/racks/{rack.pk}/?event_type=app:create").content.decode()
    assert '<option value="app:create" selected>App created</option>' in html
    assert f'<a href="/racks/{rack.pk}/">Clear the filters</a>' in html


def test_the_api_filters_by_event_type_and_by_part_of_an_app_name(client_for, member, rack):
    failed = rack_event(rack, "build:create", "error", app="Shop-Front", id="BAAAAAAAAAA")
    rack_event(rack, "build:create", "success", app="shop-front", id="BBBBBBBBBBB")
    rack_event(rack, app="blog")
    client = client_for(member)
    found = client.get("/api/v1/notifications/?event_type=build:failed&app=SHOP").json()
    assert [item["id"] for item in found["results"]] == [failed.pk]
    history = client.get(f"/api/v1/racks/{rack.pk}/notifications/?event_type=build:failed")
    assert [item["id"] for item in history.json()["results"]] == [failed.pk]
    assert client.get("/api/v1/notifications/?event_type=nope").status_code == 400


def test_items_name_their_organization_only_for_a_member_of_several(client_for, member, rack,
                                                                     other_rack, other_org):
    assert 'id="rack-organizations"' not in client_for("member").get("/").content.decode()
    Membership.objects.create(user=member, organization=other_org, role=Role.VIEWER)
    html = client_for("member").get("/").content.decode()
    assert 'id="rack-organizations"' in html and other_org.name in html
