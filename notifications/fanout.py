"""One listener per web process for the organizations' notifications.

A notification goes to one organization group. Rather than every socket of the
organization holding its own place in that group (a queue, a task woken and a copy of the
message per socket), the process joins each organization's group once, while it has a
socket of that organization open, and hands every message straight to those sockets.
With 1,000 open dashboards a notification costs the process one message and 1,000 socket
writes, not 1,000 channel-layer deliveries.
"""

import asyncio
import json
import logging
from typing import Protocol

from channels.layers import get_channel_layer

from notifications.live import org_group

log = logging.getLogger(__name__)

RECEIVE_RETRY_SECONDS = 1.0


class Listener(Protocol):
    user_id: int

    async def push_notification(self, text: str) -> None: ...


class Fanout:
    """The sockets of this process by organization, and the one channel that feeds them."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.sockets: dict[int, set[Listener]] = {}
        self.channel: str | None = None
        self.task: asyncio.Task | None = None

    async def join(self, organization_id: int, socket: Listener) -> None:
        if self.channel is None:
            self.channel = await self.layer.new_channel("fanout.")
            self.task = asyncio.create_task(self._listen(self.channel))
        sockets = self.sockets.setdefault(organization_id, set())
        sockets.add(socket)
        if len(sockets) == 1:
            await self.layer.group_add(org_group(organization_id), self.channel)

    async def leave(self, organization_id: int, socket: Listener) -> None:
        sockets = self.sockets.get(organization_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self.sockets[organization_id]
            # A socket of the organization joining meanwhile adds the group back after this.
            await self.layer.group_discard(org_group(organization_id), self.channel)

    async def _listen(self, channel: str) -> None:
        lost = False
        while True:
            try:
                if lost:
                    # A restarted Redis has forgotten which groups this process is in.
                    for organization_id in list(self.sockets):
                        await self.layer.group_add(org_group(organization_id), channel)
                    lost = False
                message = await self.layer.receive(channel)
            except Exception:
                # Redis away or restarted: this task is the process' only listener, so it
                # must outlive the outage rather than end with it.
                log.warning("live fan-out lost the channel layer; listening again",
                            exc_info=True)
                lost = True
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            sockets = self.sockets.get(message.get("organization"))
            if not sockets or message.get("type") != "feed.notification":
                continue
            # Decoded and encoded once for all the sockets of the process.
            addressed = set(message["users"])
            text = json.dumps({"type": "notification", "notification": message["item"]})
            for socket in list(sockets):
                if socket.user_id not in addressed:
                    continue
                try:
                    await socket.push_notification(text)
                except Exception:
                    # One broken socket must not cost the others their notification.
                    log.exception("live push to one socket failed")


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}


def fanout() -> Fanout:
    """This event loop's fan-out (a web process has one loop; tests make several)."""
    loop = asyncio.get_running_loop()
    current = _fanouts.get(loop)
    if current is None:
        for stale in [other for other in _fanouts if other.is_closed()]:
            del _fanouts[stale]
        current = _fanouts[loop] = Fanout()
    return current
