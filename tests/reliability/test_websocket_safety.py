"""Cross-site websocket hijacking is refused before any group is joined, a member taken
out of an organization stops hearing from it at once, and a socket cannot make its server
work faster than the socket limits allow (notifications.live.limits)."""

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from console.asgi import application
from notifications.live.limits import CLOSE_FLOODING, MAX_REFUSALS, SocketLimits
from notifications.models import FeedEntry
from racks.local import LocalRack
from racks.membership import remove_member
from racks.models import Membership, Role
from tests.conftest import PASSWORD
from tests.reliability.cluster import api_token

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

HOST = "127.0.0.1:8000"


@pytest.fixture(autouse=True)
async def _close_connections():
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def joined_groups(monkeypatch) -> list[str]:
    """Every group any socket joins during the test."""
    layer = get_channel_layer()
    seen: list[str] = []
    original = layer.group_add

    async def spy(group: str, channel: str) -> None:
        seen.append(group)
        await original(group, channel)

    monkeypatch.setattr(layer, "group_add", spy)
    return seen


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def socket_for(user, origin: str | None = f"http://{HOST}") -> WebsocketCommunicator:
    """A socket with the user's session cookie, from `origin` (None: no Origin header)."""
    headers = [(b"host", HOST.encode()),
               (b"cookie", f"sessionid={await sync_to_async(cookie_for)(user)}".encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/notifications/", headers=headers)


@pytest.mark.parametrize("origin", ["http://evil.example.com", "null", None,
                                    "http://127.0.0.1:8000.evil.example.com",
                                    "https://127.0.0.1:9999"])
async def test_a_logged_in_socket_from_a_foreign_origin_is_refused_before_joining(
        member, rack, joined_groups, origin):
    socket = await socket_for(member, origin)
    connected, _ = await socket.connect()
    assert not connected
    assert joined_groups == []
    await socket.disconnect()


async def test_the_sites_own_origin_is_let_in(member, rack, joined_groups):
    socket = await socket_for(member)
    connected, _ = await socket.connect()
    assert connected
    # The joins follow the accept; the first count follows the joins.
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    assert joined_groups
    await socket.disconnect()


async def test_a_removed_member_stops_receiving_within_a_second(owner, member, rack):
    socket = await socket_for(member)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"

    membership = await sync_to_async(Membership.objects.select_related(
        "organization", "user").get)(user=member)
    await sync_to_async(remove_member)(membership, acting_role=Role.OWNER)
    closed = await socket.receive_output(timeout=1)
    assert closed["type"] == "websocket.close"

    # What the organization does next reaches the removed member nowhere, and a socket
    # they open again no longer joins the organization's group.
    await sync_to_async(LocalRack().create_app)(rack, "after-removal")
    held = await sync_to_async(FeedEntry.objects.filter(user=member).count)()
    assert held == 0
    again = await socket_for(member)
    assert (await again.connect())[0]
    assert (await again.receive_json_from(timeout=2)) == {"type": "unread_count", "count": 0}
    assert await again.receive_nothing(timeout=0.5)
    await again.disconnect()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_socket_has_one_request_in_flight_and_starts_at_most_one_a_second():
    clock = FakeClock()
    limits = SocketLimits(clock)
    assert limits.admit("resume") is None
    assert "still being answered" in limits.admit("resume")
    limits.done()
    clock.now += 0.9
    assert "one resume request every 1 s" in limits.admit("resume")
    assert limits.admit("watch") is None, "each kind has its own second"
    limits.done()
    clock.now += 0.1
    assert limits.admit("resume") is None


def test_a_socket_refused_more_than_the_limit_within_the_window_is_flooding():
    clock = FakeClock()
    limits = SocketLimits(clock)
    assert not any(limits.refused() for _ in range(MAX_REFUSALS))
    clock.now += 10  # the first refusals leave the window
    assert not limits.refused()
    assert not any(limits.refused() for _ in range(MAX_REFUSALS - 1))
    assert limits.refused()


async def test_a_second_resume_within_a_second_is_answered_with_an_error(member, rack):
    socket = await socket_for(member)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    await socket.send_json_to({"type": "resume", "after": 0})
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    await socket.send_json_to({"type": "resume", "after": 0})
    answer = await socket.receive_json_from(timeout=2)
    assert answer["type"] == "error" and "request every" in answer["error"]
    await asyncio.sleep(1)  # the interval passes: then a resume is answered again
    await socket.send_json_to({"type": "resume", "after": 0})
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    await socket.disconnect()


@pytest.mark.parametrize("after", [2**63, 2**70, int("9" * 25)])
async def test_an_after_beyond_the_database_is_answered_with_an_error(member, rack, after):
    socket = await socket_for(member)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    await socket.send_json_to({"type": "resume", "after": after})
    answer = await socket.receive_json_from(timeout=2)
    assert answer["type"] == "error" and "after" in answer["error"]
    # The socket is still open and resumes.
    await socket.send_json_to({"type": "resume", "after": 0})
    assert (await socket.receive_json_from(timeout=2))["type"] == "unread_count"
    await socket.disconnect()


async def test_a_socket_flooding_resumes_is_closed_with_1008(cluster, owner, rack):
    """Against a real web process: 100 resumes of ~40 bytes at once drew 1,301 frames
    and 1.6 MB back, and 100 database queries, before the limits."""
    for n in range(20):
        await sync_to_async(LocalRack().create_app)(rack, f"app-{n}")
    web = await asyncio.to_thread(cluster.add_web)
    token = await asyncio.to_thread(api_token, web.url, owner.username, PASSWORD)
    url = web.url.replace("http://", "ws://") + f"/ws/notifications/?token={token}"
    frames = sent_back = 0
    async with websockets.connect(url, origin=web.url, open_timeout=10) as live:
        await asyncio.wait_for(live.recv(), 5)  # the first unread count
        for _ in range(100):
            await live.send(json.dumps({"type": "resume", "after": 0}))
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                sent_back += len(await asyncio.wait_for(live.recv(), 5))
                frames += 1
    assert live.close_code == CLOSE_FLOODING
    # One resume answered (20 notifications and the count), then an error per refusal.
    assert frames <= 20 + 1 + MAX_REFUSALS + 1, frames
    print(f"100 resumes drew {frames} frames, {sent_back:,} bytes, then 1008")
