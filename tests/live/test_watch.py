"""Live build, app and rack pages: a socket watches one build, app or rack it may see, and
hears how it goes (notifications.live.push.broadcast_build, broadcast_notification),
within the socket's flood limits."""


import pytest
from asgiref.sync import sync_to_async

from notifications.envelope import Envelope
from notifications.live import limits as socket_limits
from notifications.live import push as live
from notifications.live.limits import MAX_WATCHED
from notifications.pipeline import record_event
from notifications.preferences import set_preference
from racks.local import LocalRack
from racks.models import Build, Rack, new_object_id
from racks.tasks import run_build
from tests.live.test_consumer import _close_worker_connections, opened  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def make_app(rack, name: str = "web"):
    return LocalRack().create_app(rack, name)


def make_build(app, *, fail: bool = False) -> Build:
    # Made directly: start_build would queue the task this test runs itself.
    return Build.objects.create(id=new_object_id("B"), app=app, should_fail=fail)


async def next_of(socket, kind: str) -> dict:
    """The next message of a kind, past notifications and counts."""
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == kind:
            return message


async def watch(socket, **target: str) -> dict:
    await socket.send_json_to({"type": "watch", **target})
    return await socket.receive_json_from(timeout=3)


async def test_a_viewer_watches_a_build_and_sees_its_logs_grow_until_it_ends(viewer, rack):
    app = await sync_to_async(make_app)(rack)
    build = await sync_to_async(make_build)(app, fail=True)
    socket = await opened(viewer, unread=1)
    snapshot = await watch(socket, build=build.id)
    assert snapshot == {"type": "build", "snapshot": True, "logs": "",
                        "build": {"id": build.id, "app": "web", "status": "created",
                                  "started_at": None, "ended_at": None}}

    await sync_to_async(run_build)(build.id)
    updates = []
    while not updates or updates[-1]["build"]["status"] == "running":
        updates.append(await next_of(socket, "build"))
    assert updates[0]["build"]["status"] == "running" and updates[0]["build"]["started_at"]
    assert updates[0]["logs"] == f"Build {build.id} started\n"
    assert updates[1]["logs"] == "Cloning source\n"
    last = updates[-1]
    assert last["build"]["status"] == "failed" and last["build"]["ended_at"]
    assert last["logs"] == "ERROR: tests failed: exit status 1\n"
    stored = await sync_to_async(Build.objects.get)(pk=build.id)
    assert "".join(u["logs"] for u in updates) == stored.logs
    await socket.disconnect()


async def test_an_outsider_cannot_watch_a_build_nor_an_app_of_another_organization(
        outsider, rack, monkeypatch):
    # Two watches back to back: no second to wait out between them (the limit has its tests).
    monkeypatch.setattr(socket_limits, "MIN_INTERVAL_SECONDS", 0.0)
    app = await sync_to_async(make_app)(rack)
    build = await sync_to_async(make_build)(app)
    socket = await opened(outsider)
    refused = await watch(socket, build=build.id)
    assert refused == {"type": "error",
                       "error": "There is no such build, app or rack that you may see."}
    assert (await watch(socket, app=f"{rack.pk}/web"))["type"] == "error"
    assert (await watch(socket, rack=rack.pk))["type"] == "error"
    # Nothing of the build reaches the outsider.
    await sync_to_async(live.broadcast_build)(build)
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_an_unknown_build_is_answered_like_a_forbidden_one(member, rack):
    socket = await opened(member)
    answer = await watch(socket, build="BAAAAAAAAAA")
    assert answer["error"] == "There is no such build, app or rack that you may see."
    await socket.disconnect()


async def test_an_app_page_hears_its_builds_and_new_activity(member, rack):
    app = await sync_to_async(make_app)(rack)
    socket = await opened(member, unread=1)
    assert await watch(socket, app=f"{rack.pk}/web") == {"type": "watching",
                                                          "app": f"{rack.pk}/web"}
    build = await sync_to_async(LocalRack().start_build)(app, description="first")
    message = await next_of(socket, "build")
    assert message["build"]["id"] == build.id and message["build"]["status"] == "created"
    await sync_to_async(LocalRack().set_env)(app, {"GREETING": "hi"})
    assert (await next_of(socket, "app"))["notification"] > 0
    await socket.disconnect()


async def test_a_rack_page_hears_the_racks_new_notifications_even_those_not_in_its_feed(
        member, rack, monkeypatch):
    monkeypatch.setattr(socket_limits, "MIN_INTERVAL_SECONDS", 0.0)
    socket = await opened(member)
    assert await watch(socket, rack=rack.pk) == {"type": "watching", "rack": rack.pk}
    # The member mutes everything: the rack's history (and its activity) still grows.
    await sync_to_async(set_preference)(member, event_type="*", channels=[])
    created = await sync_to_async(record_event)(
        rack, Envelope(action="app:create", status="success", data={"app": "web"}))
    assert await next_of(socket, "rack") == {"type": "rack",
                                             "notification": created.notification.pk}
    # Another rack of the organization is not this page's.
    other = await sync_to_async(Rack.objects.create)(organization_id=rack.organization_id,
                                                     name="staging")
    await sync_to_async(record_event)(
        other, Envelope(action="app:create", status="success", data={"app": "api"}))
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_an_unknown_rack_is_answered_like_a_forbidden_one(member):
    socket = await opened(member)
    answer = await watch(socket, rack=2**40)
    assert answer["error"] == "There is no such build, app or rack that you may see."
    await socket.disconnect()


async def test_watch_counts_in_the_flood_limits(member, rack):
    app = await sync_to_async(make_app)(rack)
    build = await sync_to_async(make_build)(app)
    socket = await opened(member, unread=1)
    assert (await watch(socket, build=build.id))["type"] == "build"
    again = await watch(socket, build=build.id)
    assert again["type"] == "error" and "one watch request every 1 s" in again["error"]
    await socket.disconnect()


@pytest.mark.parametrize("bad", [
    {"build": 5}, {"build": ""}, {"app": "web"}, {"app": "x/web"}, {"app": f"{2**70}/web"},
    {"build": "B" * 30}, {"build": "BAAAAAAAAAA", "app": "1/web"}, {},
    {"rack": "1"}, {"rack": True}, {"rack": 0}, {"rack": 2**70}, {"rack": 1, "app": "1/web"},
])
async def test_a_malformed_watch_is_refused_with_what_may_be_sent(member, bad):
    socket = await opened(member)
    answer = await watch(socket, **bad)
    assert answer["type"] == "error" and '"type": "watch"' in answer["error"]
    await socket.disconnect()


async def test_a_socket_watches_a_bounded_number_of_objects(member, rack, monkeypatch):
    monkeypatch.setattr("notifications.live.limits.MIN_INTERVAL_SECONDS", 0)
    app = await sync_to_async(make_app)(rack)
    builds = [await sync_to_async(make_build)(app) for _ in range(MAX_WATCHED + 1)]
    socket = await opened(member, unread=1)
    for build in builds[:MAX_WATCHED]:
        assert (await watch(socket, build=build.id))["type"] == "build"
    answer = await watch(socket, build=builds[-1].id)
    assert answer["error"] == f"A socket watches at most {MAX_WATCHED} builds, apps or racks."
    await socket.disconnect()


def test_build_and_app_pages_name_what_their_socket_watches(client_for, viewer, rack):
    app = make_app(rack)
    build = make_build(app)
    client = client_for("viewer")
    page = client.get(f"/racks/{rack.pk}/apps/web/builds/{build.id}/").content.decode()
    assert f'data-watch data-watch-build="{build.id}"' in page
    assert "console/watch.js" in page
    page = client.get(f"/racks/{rack.pk}/apps/web/").content.decode()
    assert f'data-watch-app="{rack.pk}/web"' in page
    for part in ("builds", "releases", "timeline"):
        assert f'data-live-part="{part}"' in page
    page = client.get(f"/racks/{rack.pk}/").content.decode()
    assert f'data-watch data-watch-rack="{rack.pk}"' in page
    assert 'data-live-part="activity"' in page and "console/watch.js" in page


def test_the_api_docs_describe_the_watch_message(client_for, viewer):
    schema = client_for("viewer").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert '{"type": "watch", "build": "<build id>"}' in schema["info"]["description"]
    assert '{"type": "watch", "rack": <rack id>}' in schema["info"]["description"]
