"""How synchronous code (views, Celery tasks, signal handlers) reaches the channel layer.

Each process sends through one long-lived event loop thread, so the Redis connection is
reused and no loop is created and closed per message (the "event loop is closed" trap of
`async_to_sync` in workers). The embedded default (`scripts/run`) keeps the channel layer
in memory, bound to the web server's event loop: a worker thread in the same process
hands its sends to that loop instead.
"""

import asyncio
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError

SEND_TIMEOUT_SECONDS = 5

_server_loop: asyncio.AbstractEventLoop | None = None
_sender_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The web server's loop, where an in-memory layer's queues live (set by a socket)."""
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process' sending loop, started on first use (and again after a fork)."""
    global _sender_loop
    with _loop_lock:
        if _sender_loop is None or not _sender_loop.is_running() or \
                getattr(_sender_loop, "_owner_pid", None) != os.getpid():
            loop = asyncio.new_event_loop()
            loop._owner_pid = os.getpid()  # type: ignore[attr-defined]
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()
            threading.Thread(target=run, name="live-sender", daemon=True).start()
            started.wait(5)
            _sender_loop = loop
        return _sender_loop


def send(group: str, message: dict[str, Any]) -> None:
    """Send a message to a group, from synchronous code; raises what the layer raises."""
    layer = get_channel_layer()
    if layer is None:
        return
    if type(layer).__name__ == "InMemoryChannelLayer":
        loop = _server_loop
        if loop is None or not loop.is_running():
            async_to_sync(layer.group_send)(group, message)  # nobody is connected here
            return
    else:
        loop = _background_loop()

    def send_once() -> None:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(
            timeout=SEND_TIMEOUT_SECONDS)
    try:
        send_once()
    except RedisConnectionError:
        # After Redis restarts, the first command on each pooled connection fails and
        # the pool reconnects: a socket that stayed open would silently miss this push.
        send_once()
