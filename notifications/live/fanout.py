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
import time
from collections import deque
from datetime import datetime
from typing import Any, Protocol

from channels.layers import get_channel_layer

from console import tracing
from console.metrics import PUSH_LATENCY
from notifications.live.push import org_group

log = logging.getLogger(__name__)

RECEIVE_RETRY_SECONDS = 1.0
# Sockets written to between two turns of the event loop.
YIELD_EVERY = 50
# During a burst, the longest the writer keeps the loop to itself.
BURST_TURN_SECONDS = 0.05


class Listener(Protocol):
    user_id: int

    async def push_notification(self, head: str, notification_id: int) -> None: ...


class Fanout:
    """The sockets of this process by organization, and the one channel that feeds them."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.sockets: dict[int, set[Listener]] = {}
        self.channel: str | None = None
        # Received, not yet written: the listener fills it, the writer empties it.
        self.inbox: deque[dict[str, Any]] = deque()
        self.wake = asyncio.Event()
        self.turned = 0.0  # when the writer last gave the loop a turn
        self.task: asyncio.Task | None = None
        self.writer: asyncio.Task | None = None
        # Two first sockets connecting at once must not make two channels: the second
        # would take over, and the first would stay in its groups and double every push.
        self.starting = asyncio.Lock()

    async def join(self, organization_id: int, socket: Listener) -> None:
        if self.channel is None:
            async with self.starting:
                if self.channel is None:
                    channel = await self.layer.new_channel("fanout.")
                    self.task = asyncio.create_task(self._listen(channel))
                    self.writer = asyncio.create_task(self._write())
                    self.channel = channel
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
            if message.get("type") == "feed.notification":
                self.inbox.append(message)
                self.wake.set()

    async def _write(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            await self._push_inbox()

    async def _push_inbox(self) -> None:
        self.turned = asyncio.get_running_loop().time()  # it woke: the loop just turned
        while self.inbox:
            try:
                await self._push(self.inbox.popleft())
            except Exception:
                # The only writer: a bad message must not end it.
                log.exception("live push of one message failed")

    async def _push(self, message: dict[str, Any]) -> None:
        sockets = self.sockets.get(message.get("organization"))
        if not sockets:
            return
        # Encoded once for all the sockets of the process; each socket ends it with its
        # user's unread count (consumer.py). It pays: against one json.dumps per socket the
        # live bench's rate is 29% higher, 26 against 36 us of CPU a message (A/B).
        addressed = set(message["users"])
        item_id = message["item"]["id"]
        head = ('{"type": "notification", "notification": '
                f'{json.dumps(message["item"])}, "unread_count": ')
        loop = asyncio.get_running_loop()
        tracing.start(message.get("request_id"))
        tracing.about(notification=item_id, rack=message["item"].get("rack"))
        pushed = 0
        for written, socket in enumerate(list(sockets), 1):
            if written % YIELD_EVERY == 0 and (
                    not self.inbox or loop.time() - self.turned > BURST_TURN_SECONDS):
                # One notification alone: let the loop send what is written so far, so
                # the first browsers read while the last are written to, and requests
                # waiting for the loop are not held up behind the push. With more
                # waiting (a burst), keep writing, so that each socket gets several
                # frames in one send, but still give the loop a turn now and then.
                await asyncio.sleep(0)
                self.turned = loop.time()
            if socket.user_id not in addressed:
                continue
            try:
                await socket.push_notification(head, item_id)
                pushed += 1
            except Exception:
                # One broken socket must not cost the others their notification.
                log.exception("live push to one socket failed")
        if pushed:
            committed = datetime.fromisoformat(message["item"]["created_at"])
            PUSH_LATENCY.observe(max(0.0, time.time() - committed.timestamp()))
            log.info("pushed notification %s to %d sockets", item_id, pushed)


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
