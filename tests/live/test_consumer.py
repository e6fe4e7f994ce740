"""The live feed socket: who may open it, what it sends, and how it catches up."""

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from console.asgi import application
from notifications import unread
from notifications.live import consumer as consumers
from notifications.live import push as live
from notifications.models import FeedEntry, Notification
from racks.local import LocalRack
from racks.membership import remove_member
from racks.models import Membership, Rack, Role

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1:8000"
ORIGIN = f"http://{HOST}"


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    """The socket's ORM calls run in a worker thread: close its connection after each test."""
    yield
    await sync_to_async(connections.close_all)()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user=None, *, origin: str | None = ORIGIN, query: str = "",
                      cookie: str | None = None) -> tuple[WebsocketCommunicator, bool, object]:
    headers = [(b"host", HOST.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = "/ws/notifications/" + (f"?{query}" if query else "")
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await socket.connect()
    return socket, connected, code


async def opened(user=None, unread: int = 0, **kwargs) -> WebsocketCommunicator:
    """An open socket, past the unread count it is first sent."""
    socket, connected, _ = await open_socket(user, **kwargs)
    assert connected
    assert await socket.receive_json_from(timeout=3) == {"type": "unread_count",
                                                         "count": unread}
    return socket


async def receive_notification(socket: WebsocketCommunicator) -> tuple[dict, int]:
    message = await socket.receive_json_from(timeout=3)
    assert message["type"] == "notification", message
    return message["notification"], message["unread_count"]


async def create_app(rack, name: str):
    return await sync_to_async(LocalRack().create_app)(rack, name)


async def only_they_hear(rack, name: str, hearer: WebsocketCommunicator,
                         *deaf: WebsocketCommunicator) -> None:
    """An app created on the rack reaches `hearer` and none of the `deaf` sockets."""
    await create_app(rack, name)
    item, _ = await receive_notification(hearer)
    assert item["app"] == name
    for socket in deaf:
        assert await socket.receive_nothing(timeout=0.5)


async def test_a_member_sees_an_app_created_live_with_the_unread_count(member, rack):
    socket = await opened(member)
    await create_app(rack, "demo")
    item, count = await receive_notification(socket)
    assert item["message"] == "[production] Created app demo"
    assert item["rack"] == rack.pk and item["app"] == "demo" and item["read"] is False
    assert count == 1
    await socket.disconnect()


async def test_a_program_connects_with_an_api_token(viewer, rack):
    _, token = await sync_to_async(AuthToken.objects.create)(viewer)
    socket = await opened(query=f"token={token}")
    await create_app(rack, "demo")
    item, count = await receive_notification(socket)
    assert item["message"] == "[production] Created app demo" and count == 1
    await socket.disconnect()


@pytest.mark.parametrize("query", ["token=not-a-token", "token=" + "a" * 64, ""])
async def test_a_socket_without_a_valid_login_is_closed_with_4401(query):
    socket, connected, _ = await open_socket(query=query)
    assert connected  # accepted only to say why it is closed
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    await socket.disconnect()


async def test_an_ended_session_is_anonymous(member):
    web = Client()
    await sync_to_async(web.force_login)(member)
    cookie = web.cookies["sessionid"].value
    await sync_to_async(web.logout)()
    socket, connected, _ = await open_socket(cookie=cookie)
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    await socket.disconnect()


@pytest.mark.parametrize("origin", [
    "http://evil.example",  # another site
    "http://127.0.0.1:9999",  # our host name, another port: another site's page
    "https://127.0.0.1:8000",  # another scheme
    "http://127.0.0.1.evil.example:8000",
    "null",  # sandboxed frames and file: pages
    "",
    None,  # no Origin header at all
])
async def test_a_socket_from_another_origin_is_refused_before_joining_anything(
        member, rack, origin, monkeypatch):
    joined: list[str] = []
    layer = get_channel_layer()
    real_add = layer.group_add

    async def spy(group, channel):
        joined.append(group)
        return await real_add(group, channel)

    monkeypatch.setattr(layer, "group_add", spy, raising=False)
    _, connected, _ = await open_socket(member, origin=origin)
    assert not connected
    assert joined == []
    # The same socket from our own page joins its groups: the spy does see joins.
    socket, connected, _ = await open_socket(member, origin=ORIGIN)
    assert connected
    # The joins follow the accept; the first count follows the joins.
    assert (await socket.receive_json_from(timeout=3))["type"] == "unread_count"
    assert joined == [live.org_group(rack.organization_id), live.user_group(member.pk)]
    await socket.disconnect()


async def test_a_user_of_another_organization_never_receives_it(member, outsider, rack,
                                                               other_rack):
    ours, theirs = await opened(member), await opened(outsider)
    await only_they_hear(rack, "ours", ours, theirs)
    await only_they_hear(other_rack, "theirs", theirs, ours)
    await ours.disconnect()
    await theirs.disconnect()


async def test_resume_sends_what_was_missed_oldest_first(member, rack):
    apps = [await create_app(rack, f"app-{i}") for i in range(4)]
    ids = await sync_to_async(lambda: list(
        FeedEntry.objects.filter(user=member).order_by("notification_id")
        .values_list("notification_id", flat=True)))()
    assert len(ids) == len(apps)
    # Long committed: only what comes after `after` is replayed.
    await sync_to_async(FeedEntry.objects.update)(created_at=timezone.now() - timedelta(hours=1))
    socket = await opened(member, unread=4)
    await socket.send_json_to({"type": "resume", "after": ids[1]})
    got = [(await socket.receive_json_from(timeout=3)) for _ in range(3)]
    assert [m["notification"]["id"] for m in got[:2]] == ids[2:]
    assert got[2] == {"type": "unread_count", "count": 4}
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_resume_resends_recent_entries_so_a_late_commit_is_not_lost(member, rack):
    """Ids are taken before commit: a lower id can commit after a higher one was pushed."""
    socket = await opened(member)
    holding, committed_later = threading.Event(), threading.Event()
    release_it = threading.Event()
    # Another rack: adding an app locks its rack until commit (racks.caps).
    staging = await sync_to_async(Rack.objects.create)(
        organization_id=rack.organization_id, name="staging")

    def slow_transaction() -> None:
        try:
            with transaction.atomic():
                LocalRack().create_app(staging, "slow")  # takes the lower id
                holding.set()
                release_it.wait(10)
        finally:
            connection.close()
            committed_later.set()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    await asyncio.get_running_loop().run_in_executor(None, holding.wait, 10)
    await create_app(rack, "fast")  # the higher id commits and is pushed first
    fast, _ = await receive_notification(socket)
    await socket.disconnect()  # the browser goes offline before the slow one commits
    release_it.set()
    await asyncio.get_running_loop().run_in_executor(None, committed_later.wait, 10)
    thread.join()

    socket = await opened(member, unread=2)
    await socket.send_json_to({"type": "resume", "after": fast["id"]})
    replayed = []
    while (message := await socket.receive_json_from(timeout=3))["type"] == "notification":
        replayed.append(message["notification"])
    slow = [i for i in replayed if i["app"] == "slow"]
    assert len(slow) == 1 and slow[0]["id"] < fast["id"]
    assert message == {"type": "unread_count", "count": 2}
    await socket.disconnect()


async def test_a_resume_that_missed_too_much_asks_for_a_reload(member, rack, monkeypatch):
    monkeypatch.setattr("notifications.live.consumer.RESUME_MAX", 2)
    for i in range(3):
        await create_app(rack, f"app-{i}")
    socket = await opened(member, unread=3)
    await socket.send_json_to({"type": "resume", "after": 0})
    assert await socket.receive_json_from(timeout=3) == {"type": "resync"}
    await socket.disconnect()


@pytest.mark.parametrize("message", ['{"type": "resume", "after": "x"}', '{"type": "hello"}',
                                     "not json", "[1, 2]", '{"type": "resume", "after": -1}'])
async def test_a_bad_message_gets_an_explanation_and_the_socket_stays(member, message):
    socket = await opened(member)
    await socket.send_to(text_data=message)
    answer = await socket.receive_json_from(timeout=3)
    assert answer["type"] == "error" and answer["error"]
    await socket.send_json_to({"type": "resume", "after": 0})
    assert await socket.receive_json_from(timeout=3) == {"type": "unread_count", "count": 0}
    await socket.disconnect()


async def test_reading_elsewhere_updates_the_badge(member, rack):
    await create_app(rack, "demo")
    socket = await opened(member, unread=1)
    await sync_to_async(FeedEntry.objects.filter(user=member).update)(read=True)
    await sync_to_async(unread.tell_browsers)(member.pk)
    assert await socket.receive_json_from(timeout=3) == {"type": "unread_count", "count": 0}
    await socket.disconnect()


async def test_logging_out_closes_the_users_sockets(member, admin):
    socket, others = await opened(member), await opened(admin)
    web = Client()
    await sync_to_async(web.force_login)(member)
    response = await sync_to_async(web.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4000}
    assert await others.receive_nothing(timeout=0.3)
    await others.disconnect()


async def test_losing_membership_closes_the_socket_and_stops_the_feed(member, org, rack):
    socket = await opened(member)
    membership = await sync_to_async(Membership.objects.get)(user=member, organization=org)
    await sync_to_async(remove_member)(membership, acting_role=Role.OWNER)
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4000}
    # Reconnecting picks up the memberships as they are now: nothing from that rack.
    socket = await opened(member)
    await create_app(rack, "after-removal")
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_each_notification_carries_the_unread_count_and_no_count_frame_follows(
        member, rack):
    socket = await opened(member)
    for name in ("one", "two", "three"):
        await create_app(rack, name)
    messages = [await socket.receive_json_from(timeout=3) for _ in range(3)]
    assert [(m["type"], m["notification"]["app"], m["unread_count"]) for m in messages] == [
        ("notification", "one", 1), ("notification", "two", 2), ("notification", "three", 3)]
    assert await socket.receive_nothing(timeout=1.5)
    await socket.disconnect()


async def test_a_push_arriving_after_a_count_that_holds_it_is_not_counted_twice(member, rack):
    """Committed, counted (the member read something meanwhile), then pushed: one."""
    socket = await opened(member)
    await create_app(rack, "first")
    first, count = await receive_notification(socket)
    assert count == 1
    # The exact count after a read elsewhere already holds "first"...
    await sync_to_async(unread.tell_browsers)(member.pk)
    assert await socket.receive_json_from(timeout=3) == {"type": "unread_count", "count": 1}
    # ... and its push comes in only now (a push still on its way when counted).
    notification = await Notification.objects.select_related("rack").aget(pk=first["id"])
    await sync_to_async(live.broadcast_notification)(notification, [member.pk])
    again, count = await receive_notification(socket)
    assert (again["id"], count) == (first["id"], 1)
    # A new one still counts.
    await create_app(rack, "second")
    _, count = await receive_notification(socket)
    assert count == 2
    await socket.disconnect()


async def test_a_page_reloaded_as_the_only_socket_of_its_organization_still_hears(member, rack):
    """The process leaves the organization's group with its last socket and joins again."""
    for _ in range(3):
        socket = await opened(member)
        await socket.disconnect()
    socket = await opened(member)
    await only_they_hear(rack, "after-reloads", socket)
    await socket.disconnect()


async def test_a_socket_that_fails_does_not_cost_the_others_their_notification(
        member, admin, rack, monkeypatch):
    first, second = await opened(member), await opened(admin)
    original = consumers.NotificationConsumer.push_notification

    async def broken_for_member(self, head: str, notification_id: int) -> None:
        if self.user_id == member.pk:
            raise ConnectionResetError("the browser went away mid-write")
        await original(self, head, notification_id)

    monkeypatch.setattr(consumers.NotificationConsumer, "push_notification", broken_for_member)
    await only_they_hear(rack, "still-delivered", second, first)
    await first.disconnect()
    await second.disconnect()


async def test_open_sockets_and_push_latency_are_measured(member, rack):
    from prometheus_client import REGISTRY

    def sockets() -> float:
        return REGISTRY.get_sample_value("console_websockets_open")

    def pushes() -> float:
        return REGISTRY.get_sample_value("console_push_latency_seconds_count")

    open_before, pushed_before = sockets(), pushes()
    socket = await opened(member)
    assert sockets() == open_before + 1
    await create_app(rack, "measured")
    await receive_notification(socket)
    assert pushes() == pushed_before + 1
    await socket.disconnect()
    assert sockets() == open_before


async def test_a_resume_after_live_pushes_heard_past_a_gap_still_sends_the_gap(member, rack,
                                                                               monkeypatch):
    """A socket can hear newer pushes before it is closed on a gap (the channel layer's
    Redis restarting): resuming after the newest id it holds, it gets the recent ones below
    again, however busy the last half-minute was, and is not told to reload."""
    monkeypatch.setattr(consumers, "RESUME_MAX", 3)
    made = [await create_app(rack, f"busy{n}") for n in range(6)]
    socket = await opened(member, unread=6)
    newest = await sync_to_async(
        lambda: FeedEntry.objects.filter(user=member).order_by("-notification_id")
        .values_list("notification_id", flat=True).first())()
    await socket.send_json_to({"type": "resume", "after": newest})
    replayed = []
    while (message := await socket.receive_json_from(timeout=3))["type"] == "notification":
        replayed.append(message["notification"]["app"])
    assert message == {"type": "unread_count", "count": 6}  # not a resync
    assert replayed == [app.name for app in made]
    await socket.disconnect()
