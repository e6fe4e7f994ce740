"""Small helpers the tests share."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _met(condition: Callable[[], object], deadline: float, timeout: float, what: str) -> object:
    value = condition()
    if not value and time.monotonic() > deadline:
        raise AssertionError(f"{what} within {timeout:g} s")
    return value


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
              interval: float = 0.05, what: str = "condition not met") -> object:
    """Poll until the condition is truthy; fail the test with a clear message if not."""
    deadline = time.monotonic() + timeout
    while not (value := _met(condition, deadline, timeout, what)):
        time.sleep(interval)
    return value


async def wait_for_async(condition: Callable[[], object], timeout: float = 10.0,
                         interval: float = 0.05, what: str = "condition not met") -> object:
    """`wait_for` for async tests: the event loop keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while not (value := _met(condition, deadline, timeout, what)):
        await asyncio.sleep(interval)
    return value


def all_at_once(count: int, work: Callable[[], object]) -> None:
    """Run `work` in `count` threads released together, as simultaneous requests would be;
    each thread closes its own database connection when done."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        try:
            work()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The pytest test database, as a DATABASE_URL for another process.

    Without persistent connections: daphne runs each request in a thread of its own, so
    with CONN_MAX_AGE=60 every request left a connection open (22 after 300 requests to
    one process), and a few processes under load exhausted PostgreSQL's 100.
    """
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}?conn_max_age=0")


def run_again_on_sqlite(test_file: str, tmp_path: Path, inner_flag: str) -> str:
    """Run the file's other tests again in a fresh pytest on SQLite, the embedded default's
    database; the environment variable `inner_flag` tells the inner run that it is one.
    Fails the test if they fail; answers pytest's output."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'again.sqlite3'}", inner_flag: "1"})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", test_file, "-q", "-p", "no:cacheprovider",
         "-k", "not on_sqlite"],
        env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout
