"""How a web process writes one notification to many sockets (notifications/fanout.py)."""

import asyncio
import json

from notifications.live import fanout as fanout_module
from notifications.live.fanout import Fanout


class Socket:
    def __init__(self, user_id: int, written: list[str]) -> None:
        self.user_id = user_id
        self.written = written
        self.unread = 0

    async def push_notification(self, head: str, notification_id: int) -> None:
        self.unread += 1
        self.written.append(f"{head}{self.unread}}}")


def fanout_with(sockets: int) -> tuple[Fanout, list[str]]:
    fanout, written = Fanout(), []
    fanout.sockets[1] = {Socket(user, written) for user in range(sockets)}
    return fanout, written


def notification(number: int, users: range) -> dict:
    return {"type": "feed.notification", "organization": 1, "users": list(users),
            "item": {"id": number, "message": "[production] Created app web",
                     "created_at": "2026-12-01T10:00:00+00:00"}}


async def watching(written: list[str], push) -> list[int]:
    """How many frames were written each time the event loop got a turn meanwhile."""
    seen: list[int] = []
    task = asyncio.ensure_future(push)
    while not task.done():
        seen.append(len(written))
        await asyncio.sleep(0)
    await task
    return seen


async def test_one_notification_to_many_sockets_lets_the_loop_run_while_it_is_written():
    fanout, written = fanout_with(500)
    seen = await watching(written, fanout._push(notification(1, range(500))))
    assert len(written) == 500
    # The loop ran in between: browsers read the first frames while the last are written.
    assert [n for n in seen if 0 < n < 500]


async def test_a_burst_is_written_straight_through_until_its_last_notification():
    fanout, written = fanout_with(500)
    fanout.inbox.extend([notification(1, range(500)), notification(2, range(500))])
    seen = await watching(written, fanout._push_inbox())
    assert len(written) == 1000
    # No turn while another notification waited: each socket gets the burst in one send.
    assert not [n for n in seen if 0 < n < 500]


async def test_a_long_burst_still_gives_the_loop_a_turn_now_and_then(monkeypatch):
    """Requests and handshakes wait for the loop: a burst of minutes must not starve them."""
    monkeypatch.setattr(fanout_module, "BURST_TURN_SECONDS", 0.0)
    fanout, written = fanout_with(500)
    fanout.inbox.extend([notification(1, range(500)), notification(2, range(500))])
    seen = await watching(written, fanout._push_inbox())
    assert [n for n in seen if 0 < n < 500]


async def test_each_socket_ends_the_shared_message_with_its_own_count_and_only_addressees_get_it():
    fanout, written = fanout_with(10)
    await fanout._push(notification(7, range(0, 10, 2)))
    messages = [json.loads(text) for text in written]
    assert len(messages) == 5
    assert all(m == {"type": "notification", "unread_count": 1, "notification": {
        "id": 7, "message": "[production] Created app web",
        "created_at": "2026-12-01T10:00:00+00:00"}} for m in messages)


class SlowLayer:
    """A channel layer whose new channel takes a moment, as Redis' SUBSCRIBE does."""

    def __init__(self) -> None:
        self.channels: list[str] = []
        self.groups: dict[str, set[str]] = {}

    async def new_channel(self, prefix: str) -> str:
        await asyncio.sleep(0.01)
        self.channels.append(f"{prefix}{len(self.channels)}")
        return self.channels[-1]

    async def group_add(self, group: str, channel: str) -> None:
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups.get(group, set()).discard(channel)

    async def receive(self, channel: str) -> dict:
        await asyncio.Event().wait()  # nothing arrives in this test
        return {}


async def test_two_first_sockets_connecting_at_once_share_one_channel():
    """Two channels would each hear the organization: every push doubled, for good."""
    fanout, written = Fanout(), []
    fanout.layer = SlowLayer()
    first, second = Socket(1, written), Socket(2, written)
    await asyncio.gather(fanout.join(1, first), fanout.join(2, second))
    assert fanout.layer.channels == ["fanout.0"]
    assert fanout.layer.groups == {"org.1": {"fanout.0"}, "org.2": {"fanout.0"}}
    await fanout.leave(1, first)
    await fanout.leave(2, second)
    assert fanout.layer.groups == {"org.1": set(), "org.2": set()}
    fanout.task.cancel()
    fanout.writer.cancel()
