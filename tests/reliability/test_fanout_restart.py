"""A web process' one listener for its organizations survives Redis restarting."""

import asyncio

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from notifications.live.fanout import Fanout
from notifications.live.push import org_group
from tests.helpers import wait_for_async
from tests.reliability.cluster import RedisServer

pytestmark = pytest.mark.reliability


class Socket:
    user_id = 7

    def __init__(self) -> None:
        self.heard: list[str] = []

    async def push_notification(self, head: str, notification_id: int) -> None:
        self.heard.append(f"{head}1}}")


def notification(number: int) -> dict:
    return {"type": "feed.notification", "organization": 1, "item": {"id": number},
            "users": [7]}


async def heard(socket: Socket, count: int, timeout: float = 10) -> bool:
    try:
        await wait_for_async(lambda: len(socket.heard) >= count, timeout=timeout)
    except AssertionError:
        return False
    return True


# The configured layer, and the list-based one, whose receive raises while Redis is away
# (and which forgets group memberships with the restart).
LAYERS = [settings.CHANNEL_LAYERS["default"]["BACKEND"],
          "channels_redis.core.RedisChannelLayer"]


@pytest.mark.parametrize("backend", LAYERS)
async def test_a_socket_open_through_a_redis_restart_hears_the_next_notification(
        tmp_path, backend):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        fanout = Fanout()
        fanout.layer = import_string(backend)(hosts=[redis.url])
        socket = Socket()
        await fanout.join(1, socket)
        await fanout.layer.group_send(org_group(1), notification(1))
        assert await heard(socket, 1)

        redis.restart()  # everything it held is gone
        for _ in range(50):  # the first command on a dropped connection fails
            try:
                await fanout.layer.group_send(org_group(1), notification(2))
                if await heard(socket, 2, timeout=0.5):
                    break
            except Exception:  # noqa: BLE001 - Redis still coming back
                await asyncio.sleep(0.2)
        # Sent again until heard, so it may arrive twice; the browser drops repeats.
        assert len(socket.heard) >= 2 and all('"id": 2' in t for t in socket.heard[1:])
        assert not fanout.task.done() and not fanout.writer.done()
        await fanout.leave(1, socket)
        fanout.task.cancel()
        fanout.writer.cancel()
    finally:
        redis.kill()
