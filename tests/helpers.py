"""Small helpers the tests share."""

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
              interval: float = 0.05) -> object:
    """Poll until the condition is truthy; fail the test with a clear message if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class GroupListener:
    """A channel in a live group, held by its own event loop, as a web process holds one.

    The Redis layer is bound to the loop that uses it, so a synchronous test cannot join a
    group in one `async_to_sync` call and receive in the next: this keeps one loop running.
    """

    def __init__(self, group: str) -> None:
        import asyncio
        import threading

        from channels.layers import get_channel_layer

        self.loop = asyncio.new_event_loop()
        self.layer = get_channel_layer()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(group, self.channel))
        self.group = group

    def _run(self, coroutine, timeout: float = 10.0):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def receive(self, timeout: float = 5.0) -> dict:
        import asyncio

        return self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout),
                         timeout + 1)

    def close(self) -> None:
        self._run(self.layer.group_discard(self.group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)

    def __enter__(self) -> "GroupListener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
