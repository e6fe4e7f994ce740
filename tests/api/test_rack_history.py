"""A rack's history: every member reads everything that happened on the rack, whenever
they joined, with their own read state where it is in their feed. Their feed stays theirs."""

import pytest

from notifications.envelope import Envelope
from notifications.models import FeedEntry, Notification
from notifications.pipeline import record_event
from racks.models import Membership, Role

ROLES = ["owner", "admin", "member", "viewer"]


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


@pytest.fixture
def happened(owner, rack) -> list[Notification]:
    """What happened on the rack before anyone else joined: an app and nine builds."""
    made = [rack_event(rack, app="web")]
    made += [rack_event(rack, "build:create", "success", app="web", id=f"B{'ABCDEFGHJ'[n]*10}")
             for n in range(9)]
    made.append(rack_event(rack, app="shop"))
    return made


@pytest.fixture
def late(make_user, org):
    """A person who joins the organization after the events, with the given role."""
    def join(role: str):
        user = make_user(f"late-{role}")
        Membership.objects.create(organization=org, user=user, role=Role(role))
        return user
    return join


def history_url(rack, query: str = "") -> str:
    return f"/api/v1/racks/{rack.pk}/notifications/" + (f"?{query}" if query else "")


@pytest.mark.parametrize("role", ROLES)
def test_a_late_member_reads_the_racks_whole_history(happened, late, rack, client_for, role):
    client = client_for(late(role))
    body = client.get(history_url(rack)).json()
    assert [n["id"] for n in body["results"]] == [n.pk for n in reversed(happened)]
    assert all(n["in_feed"] is False and n["read"] is True for n in body["results"])
    # Their own feed is still theirs: nothing was addressed to them.
    assert client.get("/api/v1/notifications/").json()["results"] == []


@pytest.mark.parametrize("role", ROLES)
def test_a_late_member_reads_an_apps_history(happened, late, rack, client_for, role):
    body = client_for(late(role)).get(history_url(rack, "app=web")).json()
    assert [n["message"] for n in body["results"]][-1] == "[production] Created app web"
    assert len(body["results"]) == 10 and {n["app"] for n in body["results"]} == {"web"}


def test_the_history_carries_the_readers_read_state_where_they_hold_an_entry(
        happened, owner, rack, client_for):
    client = client_for(owner)
    client.post(f"/api/v1/notifications/{happened[0].pk}/read/")
    items = {n["id"]: n for n in client.get(history_url(rack)).json()["results"]}
    assert items[happened[0].pk]["read"] is True and items[happened[0].pk]["in_feed"] is True
    shop = happened[-1]
    assert items[shop.pk]["read"] is False and items[shop.pk]["in_feed"] is True
    # A successful build is not in the owner's feed by default, but is in the history.
    assert items[happened[1].pk]["in_feed"] is False
    unread = client.get(history_url(rack, "unread=true")).json()["results"]
    assert [n["id"] for n in unread] == [shop.pk]
    rest = client.get(history_url(rack, "unread=false")).json()["results"]
    assert len(rest) == len(happened) - 1 and shop.pk not in {n["id"] for n in rest}


def test_the_history_pages_and_filters_like_the_feed(happened, owner, rack, client_for):
    client = client_for(owner)
    first = client.get(history_url(rack, "limit=4&action=build:create")).json()
    second = client.get(first["next"]).json()
    ids = [n["id"] for n in first["results"] + second["results"]]
    assert len(first["results"]) == 4 and len(set(ids)) == 8
    assert all(n["action"] == "build:create" for n in first["results"] + second["results"])


def test_a_member_removed_from_the_organization_reads_no_more(happened, late, rack,
                                                              client_for):
    gone = late("member")
    Membership.objects.filter(user=gone).delete()
    assert client_for(gone).get(history_url(rack)).status_code == 404


def test_outsiders_get_404_and_anonymous_visitors_401(happened, outsider, rack, client_for):
    response = client_for(outsider).get(history_url(rack))
    assert response.status_code == 404 and b"production" not in response.content
    assert client_for("anonymous").get(history_url(rack)).status_code == 401


def test_the_history_is_read_only(happened, owner, rack, client_for):
    assert client_for(owner).post(history_url(rack)).status_code == 405


def test_a_page_of_history_costs_the_same_few_queries_however_long(
        happened, owner, rack, client_for, django_assert_max_num_queries):
    client = client_for(owner)
    with django_assert_max_num_queries(5):
        client.get(history_url(rack, "limit=50"))


def test_the_schema_documents_the_history_and_its_item(db):
    from rest_framework.test import APIClient

    document = APIClient().get("/api/schema/",
                               HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listing = document["paths"]["/api/v1/racks/{rack_id}/notifications/"]["get"]
    assert {"app", "action", "status", "unread", "cursor", "limit"} <= {
        p["name"] for p in listing["parameters"]}
    assert "in_feed" in document["components"]["schemas"]["HistoryItem"]["properties"]


def test_feed_entries_are_not_written_by_reading_history(happened, late, rack, client_for):
    reader = late("viewer")
    client_for(reader).get(history_url(rack))
    assert not FeedEntry.objects.filter(user=reader).exists()
