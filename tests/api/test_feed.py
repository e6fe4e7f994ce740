"""The feed API: each user reads their own notifications, pages, filters and read state."""


import pytest

from notifications.api.serializers import NotificationItemSerializer
from notifications.envelope import Envelope
from notifications.items import notification_item
from notifications.live.push import user_group
from notifications.models import FeedEntry, Notification
from notifications.pipeline import record_event
from racks.local import LocalRack
from tests.helpers import GroupListener

ROLES = ["owner", "admin", "member", "viewer", "outsider", "anonymous"]
READERS = {"owner": 200, "admin": 200, "member": 200, "viewer": 200, "outsider": 404,
           "anonymous": 401}


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


@pytest.fixture
def some(people, rack):
    """Three notifications on the organization's rack: two app events and a failed build."""
    return [rack_event(rack, app="shop"), rack_event(rack, app="blog"),
            rack_event(rack, "build:create", "error", app="shop", id="BAAAAAAAAAA")]


@pytest.mark.parametrize("role", ROLES)
def test_each_user_reads_their_own_feed(people, client_for, some, other_rack, role):
    theirs = rack_event(other_rack, app="globex-app")
    response = client_for(role).get("/api/v1/notifications/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    ids = [n["id"] for n in response.json()["results"]]
    assert ids == ([theirs.pk] if role == "outsider" else [n.pk for n in reversed(some)])


def test_a_feed_item_has_the_contract_shape(owner, some, client_for):
    item = client_for(owner).get("/api/v1/notifications/").json()["results"][0]
    assert {"id", "message", "action", "status", "rack", "app", "data", "created_at",
            "read"} <= set(item)
    assert item["message"] == "[production] Build BAAAAAAAAAA failed for app shop"
    assert item["read"] is False and item["rack"] == some[2].rack_id


def test_the_serializer_declares_exactly_the_item_it_produces(owner, some):
    entry = FeedEntry.objects.select_related("notification__rack").filter(user=owner).first()
    produced = NotificationItemSerializer(entry).data
    assert produced == notification_item(entry.notification, read=entry.read)
    assert set(NotificationItemSerializer().fields) == set(produced)


def test_a_feed_page_shows_each_item_exactly_as_the_shared_shape(owner, some, client_for):
    client = client_for(owner)
    client.post(f"/api/v1/notifications/{some[1].pk}/read/")
    listed = client.get("/api/v1/notifications/").json()["results"]
    entries = {e.notification_id: e for e in FeedEntry.objects.filter(user=owner)
               .select_related("notification__rack")}
    assert listed == [notification_item(entries[item["id"]].notification,
                                        read=entries[item["id"]].read) for item in listed]
    assert [item["read"] for item in listed] == [False, True, False]


@pytest.mark.parametrize("role", ROLES)
def test_notification_detail_by_role(people, client_for, some, role):
    response = client_for(role).get(f"/api/v1/notifications/{some[0].pk}/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert response.json()["id"] == some[0].pk


@pytest.mark.parametrize("role", ROLES)
def test_marking_read_and_unread_by_role(people, client_for, some, role):
    client = client_for(role)
    read = client.post(f"/api/v1/notifications/{some[0].pk}/read/")
    assert read.status_code == READERS[role]
    if read.status_code != 200:
        assert not FeedEntry.objects.filter(read=True).exists()
        return
    assert read.json()["read"] is True
    entry = FeedEntry.objects.get(user=people[role], notification=some[0])
    assert entry.read
    # Only this user's entry changed.
    assert FeedEntry.objects.filter(read=True).count() == 1
    unread = client.post(f"/api/v1/notifications/{some[0].pk}/unread/")
    assert unread.json()["read"] is False
    entry.refresh_from_db()
    assert not entry.read


@pytest.mark.parametrize("role", ROLES)
def test_unread_count_and_read_all_by_role(people, client_for, some, role):
    client = client_for(role)
    count = client.get("/api/v1/notifications/unread-count/")
    if role == "anonymous":
        assert count.status_code == 401
        assert client.post("/api/v1/notifications/read-all/").status_code == 401
        return
    expected = 0 if role == "outsider" else 3
    assert count.json() == {"count": expected}
    done = client.post("/api/v1/notifications/read-all/")
    assert done.json()["marked"] == expected and done.json()["count"] == 0
    assert len(done.json()["ids"]) == expected
    assert client.get("/api/v1/notifications/unread-count/").json() == {"count": 0}
    others = FeedEntry.objects.exclude(user=people[role])
    assert others.filter(read=False).count() == others.count()


def test_reading_tells_the_users_browsers_their_new_count(owner, some, client_for,
                                                          django_capture_on_commit_callbacks):
    with GroupListener(user_group(owner.pk)) as browser:
        with django_capture_on_commit_callbacks(execute=True):
            client_for(owner).post(f"/api/v1/notifications/{some[0].pk}/read/")
        message = browser.receive()
    # With the recent notifications the count includes: their pushes, if still on their
    # way, must not add to it (notifications.unread).
    assert message["type"] == "feed.unread" and message["count"] == 2
    assert sorted(message["counted"]) == sorted(n.pk for n in some)


def test_reading_twice_changes_nothing_and_tells_nobody(owner, some, client_for,
                                                        django_capture_on_commit_callbacks):
    client = client_for(owner)
    client.post(f"/api/v1/notifications/{some[0].pk}/read/")
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(f"/api/v1/notifications/{some[0].pk}/read/").json()["read"]
    assert callbacks == []


@pytest.mark.parametrize("query, expected", [
    ("app=shop", [2, 0]), ("action=build:create", [2]), ("status=error", [2]),
    ("unread=true", [2, 1]), ("unread=false", [0]), ("app=none", []),
])
def test_filters(owner, some, client_for, query, expected):
    client = client_for(owner)
    client.post(f"/api/v1/notifications/{some[0].pk}/read/")
    results = client.get(f"/api/v1/notifications/?{query}").json()["results"]
    assert [n["id"] for n in results] == [some[i].pk for i in expected]


def test_filter_by_rack(owner, some, org, client_for):
    from racks.models import Rack

    staging = Rack.objects.create(organization=org, name="staging")
    on_staging = rack_event(staging, app="x")
    client = client_for(owner)
    assert [n["id"] for n in client.get(
        f"/api/v1/notifications/?rack={staging.pk}").json()["results"]] == [on_staging.pk]
    assert len(client.get(f"/api/v1/notifications/?rack={some[0].rack_id}")
               .json()["results"]) == 3


@pytest.mark.parametrize("query", ["rack=abc", "rack=1.5", "unread=maybe",
                                   "app=" + "x" * 101, "app=a%00b"])
def test_a_bad_filter_is_a_clear_400(owner, some, client_for, query):
    response = client_for(owner).get(f"/api/v1/notifications/?{query}")
    assert response.status_code == 400


def test_a_garbage_cursor_is_404_not_an_error(owner, some, client_for):
    response = client_for(owner).get("/api/v1/notifications/?cursor=%%%garbage")
    assert response.status_code == 404


def test_pages_walk_the_whole_feed_newest_first_without_repeats(owner, rack, client_for):
    made = [rack_event(rack, app=f"app{n}").pk for n in range(120)]
    client = client_for(owner)
    seen, url = [], "/api/v1/notifications/?limit=50"
    while url:
        page = client.get(url).json()
        seen += [n["id"] for n in page["results"]]
        url = page["next"]
    assert seen == sorted(made, reverse=True)


def test_a_page_far_down_uses_no_offset(owner, rack, client_for, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(60):
        rack_event(rack, app=f"app{n}")
    client = client_for(owner)
    next_url = client.get("/api/v1/notifications/?limit=20").json()["next"]
    with CaptureQueriesContext(connection) as queries:
        client.get(next_url)
    feed_sql = [q["sql"] for q in queries if "notifications_feedentry" in q["sql"]]
    assert feed_sql and all("OFFSET" not in sql for sql in feed_sql)
    assert any('"notification_id" <' in sql for sql in feed_sql)


def test_new_members_hear_only_what_happens_after_they_join(owner, rack, make_user, org,
                                                            client_for):
    from racks.models import Membership

    rack_event(rack, app="before")
    late = make_user("late")
    Membership.objects.create(organization=org, user=late, role="member")
    LocalRack().create_app(rack, "after")
    results = client_for(late).get("/api/v1/notifications/").json()["results"]
    assert [n["message"] for n in results] == ["[production] Created app after"]


def test_a_notification_outside_ones_feed_is_404_for_every_action(outsider, some,
                                                                  client_for):
    client = client_for(outsider)
    pk = some[0].pk
    assert client.get(f"/api/v1/notifications/{pk}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{pk}/read/").status_code == 404
    assert client.post(f"/api/v1/notifications/{pk}/unread/").status_code == 404
    assert Notification.objects.filter(pk=pk).exists()


def test_the_wrong_method_is_405(owner, some, client_for):
    client = client_for(owner)
    assert client.post("/api/v1/notifications/").status_code == 405
    assert client.get(f"/api/v1/notifications/{some[0].pk}/read/").status_code == 405
    assert client.delete(f"/api/v1/notifications/{some[0].pk}/").status_code == 405
