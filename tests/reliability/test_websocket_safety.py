"""Cross-site websocket hijacking is refused before any group is joined, and a member
taken out of an organization stops hearing from it at once."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from console.asgi import application
from notifications.models import FeedEntry
from racks.local import LocalRack
from racks.membership import remove_member
from racks.models import Membership, Role

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
