"""Mark all read acts on what is shown: the whole feed, one rack's, or what the filters
match; its answer lists what it marked, and marking those unread again undoes it."""

import pytest
from rest_framework.test import APIClient

from notifications.envelope import Envelope
from notifications.models import FeedEntry
from notifications.pipeline import record_event
from racks.lifecycle import create_rack
from racks.models import Membership, Role


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


def unread_of(user) -> set[int]:
    return set(FeedEntry.objects.filter(user=user, read=False)
               .values_list("notification_id", flat=True))


@pytest.fixture
def mixed(member, rack, other_org):
    """Two apps on the member's rack, and a second rack of theirs elsewhere."""
    Membership.objects.create(user=member, organization=other_org, role=Role.MEMBER)
    elsewhere = create_rack(other_org, "staging")
    return {"shop": rack_event(rack, app="shop"), "blog": rack_event(rack, app="blog"),
            "failed": rack_event(rack, "build:create", "error", app="shop", id="BAAAAAAAAAA"),
            "elsewhere": rack_event(elsewhere, app="shop")}


def test_a_member_marks_read_only_one_racks_notifications(member, rack, mixed, client_for):
    done = client_for(member).post(f"/api/v1/notifications/read-all/?rack={rack.pk}")
    assert done.status_code == 200
    assert sorted(done.json()["ids"]) == sorted(
        n.pk for key, n in mixed.items() if key != "elsewhere")
    assert unread_of(member) == {mixed["elsewhere"].pk}
    assert done.json()["count"] == 1


def test_a_member_marks_read_only_what_the_filters_match(member, rack, mixed, client_for):
    done = client_for(member).post("/api/v1/notifications/read-all/?app=shop&status=error")
    assert done.json()["ids"] == [mixed["failed"].pk]
    assert mixed["failed"].pk not in unread_of(member) and len(unread_of(member)) == 3


def test_a_member_undoes_mark_all_read(member, mixed, client_for):
    client = client_for(member)
    before = unread_of(member)
    ids = client.post("/api/v1/notifications/read-all/").json()["ids"]
    assert unread_of(member) == set()
    undone = client.post("/api/v1/notifications/unread/", {"ids": ids}, format="json")
    assert undone.json() == {"marked": 4, "count": 4}
    assert unread_of(member) == before


def test_an_undo_leaves_other_users_feeds_alone(member, owner, mixed, client_for):
    owners = set(FeedEntry.objects.filter(user=owner, read=True)
                 .values_list("notification_id", flat=True))
    ids = [n.pk for n in mixed.values()]
    assert client_for(owner).post("/api/v1/notifications/read-all/").status_code == 200
    client_for(member).post("/api/v1/notifications/unread/", {"ids": ids}, format="json")
    assert unread_of(owner) == set()
    assert owners <= set(FeedEntry.objects.filter(user=owner, read=True)
                         .values_list("notification_id", flat=True))


@pytest.mark.parametrize("body", [{"ids": ["x"]}, {"ids": [0]}, {"ids": [2**70]}, {},
                                  {"ids": list(range(1, 2003))}])
def test_a_bad_undo_is_a_400(member, client_for, body):
    answer = client_for(member).post("/api/v1/notifications/unread/", body, format="json")
    assert answer.status_code == 400


def test_a_bad_filter_marks_nothing(member, mixed, client_for):
    answer = client_for(member).post("/api/v1/notifications/read-all/?rack=abc")
    assert answer.status_code == 400 and len(unread_of(member)) == 4


def test_nobody_else_can_undo_or_mark(client_for):
    assert APIClient().post("/api/v1/notifications/unread/", {"ids": [1]},
                            format="json").status_code == 401


def test_the_unread_count_counts_what_the_filters_match(member, rack, mixed, client_for):
    client = client_for(member)
    assert client.get("/api/v1/notifications/unread-count/").json() == {"count": 4}
    counted = client.get(f"/api/v1/notifications/unread-count/?rack={rack.pk}&app=SHOP")
    assert counted.json() == {"count": 2}
    client.post(f"/api/v1/notifications/read-all/?rack={rack.pk}&app=shop")
    assert client.get(f"/api/v1/notifications/unread-count/?rack={rack.pk}").json() == \
        {"count": 1}
    refused = client.get("/api/v1/notifications/unread-count/?rack=abc")
    assert refused.status_code == 400 and "rack" in refused.content.decode()


def test_more_than_can_be_undone_is_marked_with_no_ids(member, mixed, client_for, settings):
    settings.MARK_ALL_READ_UNDO_MAX = 3
    done = client_for(member).post("/api/v1/notifications/read-all/").json()
    assert done == {"marked": 4, "count": 0, "ids": None}
    assert unread_of(member) == set()
