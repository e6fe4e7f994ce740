"""What a client may send to a real web process, started as the Procfile starts it
(console.server, through tests/reliability/cluster.py): a body over its path's cap is
refused before it is read, and a websocket message over 4 KiB closes the socket.

Each body test streams 30 MiB at one of three doors anyone can reach without logging in
(the ingest URL, the API's token endpoint, the dashboard's login form), declared with a
Content-Length, chunked, or longer than it declared. The connection must be answered or
closed within a second; meanwhile the server's spooled request files (Twisted's are
unlinked temporary files, so they are found through /proc/<pid>/fd, not in the temporary
directory) and its memory are watched: nothing over the path's cap is ever spooled, and
neither grows by more than 1 MiB once the connection is gone.
"""

import asyncio
import contextlib
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from console.body_limit import INGEST_LIMIT, OTHER_LIMIT
from console.server import WEBSOCKET_MESSAGE_LIMIT
from tests.conftest import PASSWORD
from tests.helpers import wait_for
from tests.reliability.cluster import Cluster, WebProcess, api_token

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

MiB = 1024 * 1024
STREAM = 30 * MiB
PIECE = 64 * 1024
DOORS = {"ingest": ("/ingest/not-a-rack-of-ours/", INGEST_LIMIT),
         "api": ("/api/v1/auth/token/", OTHER_LIMIT),
         "form": ("/accounts/login/", OTHER_LIMIT)}


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WebProcess]:
    """One web process (and its Redis) for the whole file, stopped at its end."""
    with django_db_blocker.unblock(), Cluster(tmp_path_factory.mktemp("limits")) as cluster:
        yield cluster.add_web()


def spooled_bytes(pid: int) -> int:
    """Bytes in the process' open files that are deleted: Twisted's spooled bodies."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).endswith(" (deleted)"):
                total += os.stat(fd).st_size
        except OSError:
            continue  # closed meanwhile
    return total


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Watch:
    """The server's spooled bytes and memory, sampled every 5 ms while a test streams."""

    pid: int
    most_spooled: int = 0
    most_rss: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.most_spooled = max(self.most_spooled, spooled_bytes(self.pid))
            self.most_rss = max(self.most_rss, rss_bytes(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Outcome:
    answer: bytes  # what the server sent back before the connection ended
    answered_after: float | None  # seconds from the headers to the first byte back
    ended_after: float | None  # seconds from the headers to the connection's end
    sent: int  # body bytes the client got out before the server stopped it


def stream(port: int, path: str, how: str) -> Outcome:
    """POST 30 MiB to `path`: with `Content-Length: 30 MiB` ("declared"), chunked
    ("chunked"), or after declaring 1,000 bytes ("longer"); as fast as the server reads."""
    framing = {"declared": f"Content-Length: {STREAM}",
               "chunked": "Transfer-Encoding: chunked",
               "longer": "Content-Length: 1000"}[how]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Content-Type: application/json\r\n{framing}\r\n\r\n".encode())
    began = time.monotonic()
    sent = 0

    def send_body() -> None:
        nonlocal sent
        piece = b"x" * PIECE
        if how == "chunked":
            piece = f"{PIECE:x}\r\n".encode() + piece + b"\r\n"
        try:
            while sent < STREAM:
                client.sendall(piece)
                sent += PIECE
        except OSError:
            pass  # the server closed the connection: what the test waits for

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer, answered_after, ended_after = b"", None, None
    while time.monotonic() - began < 3:
        if not select.select([client], [], [], 0.05)[0]:
            continue
        try:
            received = client.recv(65536)
        except OSError:  # reset: closed with our bytes unread
            ended_after = time.monotonic() - began
            break
        if not received:
            ended_after = time.monotonic() - began
            break
        answered_after = answered_after or time.monotonic() - began
        answer += received
    client.close()
    sender.join(10)
    return Outcome(answer, answered_after, ended_after, sent)


@dataclass
class Growth:
    spooled: int  # the server's spooled bytes, once the connection is gone, minus before
    rss: int  # its memory, likewise
    most_spooled: int  # the most bytes spooled at any moment of the stream
    most_rss: int  # the most its memory grew at any moment of the stream


def attack(web: WebProcess, door: str, how: str) -> tuple[Outcome, Growth]:
    """Stream at a door; answer the outcome and how the server grew."""
    path, _ = DOORS[door]
    # Settle first: the process' first requests import and cache what every later one uses.
    for _ in range(3):
        httpx.post(web.url + path, content=b"{}", timeout=10,
                   headers={"Content-Type": "application/json"})
    spooled_before, rss_before = spooled_bytes(web.pid), rss_bytes(web.pid)
    with Watch(web.pid) as watch:
        outcome = stream(web.port, path, how)
        # The server's side of the close: it drops what it spooled. If it keeps more than
        # a MiB, assert_held says how much.
        with contextlib.suppress(AssertionError):
            wait_for(lambda: spooled_bytes(web.pid) - spooled_before <= MiB, timeout=2)
    return outcome, Growth(spooled_bytes(web.pid) - spooled_before,
                           rss_bytes(web.pid) - rss_before,
                           watch.most_spooled, watch.most_rss - rss_before)


def assert_held(door: str, how: str, outcome: Outcome, growth: Growth) -> None:
    """Closed within a second, before the client got its 30 MiB out; never more than the
    cap spooled; no more than 1 MiB more spooled or in memory once it is over."""
    _, cap = DOORS[door]
    assert outcome.ended_after is not None and outcome.ended_after < 1.0, outcome
    assert outcome.sent < STREAM
    assert growth.most_spooled <= cap, growth
    assert growth.spooled <= MiB and growth.rss <= MiB and growth.most_rss <= MiB, growth
    print(f"\n{how} at {door}: closed after {outcome.ended_after * 1000:.0f} ms, "
          f"{outcome.sent / MiB:.1f} MiB sent, at most {growth.most_spooled / 1024:.0f} KiB "
          f"spooled and RSS {growth.most_rss / 1024:+.0f} KiB meanwhile; after: spooled "
          f"{growth.spooled / 1024:+.0f} KiB, RSS {growth.rss / 1024:+.0f} KiB")


@pytest.mark.parametrize("door", DOORS)
def test_a_declared_body_over_the_cap_is_refused_at_once(web, door):
    outcome, growth = attack(web, door, "declared")
    assert_held(door, "declared", outcome, growth)
    # Refused on its headers: nothing of the body was kept at all.
    assert growth.most_spooled == 0
    if outcome.answer:  # else the close came first (the client was still sending)
        assert outcome.answer.startswith(b"HTTP/1.1 413 ")
        assert "larger than" in json.loads(outcome.answer.split(b"\r\n\r\n", 1)[1])["error"]


@pytest.mark.parametrize("door", DOORS)
def test_a_chunked_body_is_cut_off_once_past_the_cap(web, door):
    outcome, growth = attack(web, door, "chunked")
    assert_held(door, "chunked", outcome, growth)
    if outcome.answer:
        assert outcome.answer.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("door", DOORS)
def test_a_body_longer_than_it_declared_is_cut_off(web, door):
    outcome, growth = attack(web, door, "longer")
    assert_held(door, "longer", outcome, growth)


def test_a_body_under_the_cap_still_reaches_the_app(web):
    answer = httpx.post(web.url + DOORS["ingest"][0], content=b"x" * (INGEST_LIMIT - 1),
                        headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 404  # the app's answer: no rack has this URL


@pytest.fixture
def token(web, transactional_db, owner) -> str:
    return api_token(web.url, owner.username, PASSWORD)


async def test_a_websocket_message_over_4_kib_closes_the_socket_with_1009(web, token):
    url = web.url.replace("http://", "ws://") + f"/ws/notifications/?token={token}"
    async with websockets.connect(url, origin=web.url, open_timeout=10) as live:
        assert json.loads(await asyncio.wait_for(live.recv(), 5))["type"] == "unread_count"
        # Up to the cap, a message is read (and this one answered: it is no resume).
        await live.send(json.dumps({"type": "x" * (WEBSOCKET_MESSAGE_LIMIT - 20)}))
        assert json.loads(await asyncio.wait_for(live.recv(), 5))["type"] == "error"
        await live.send(json.dumps({"type": "x" * WEBSOCKET_MESSAGE_LIMIT}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(live.recv(), 5)
    assert live.close_code == 1009


def test_the_access_log_and_the_error_log_mask_ingest_urls_and_tokens(web, token):
    secret_path = "/ingest/AbCdEfGhIjKlMnOpQrStUvWxYz012345/"
    assert httpx.post(web.url + secret_path, content=b"{}", timeout=10,
                      headers={"Content-Type": "application/json"}).status_code == 404
    assert httpx.get(f"{web.url}/ws/notifications/?token={token}", timeout=10).status_code

    def logged() -> str:
        text = web.log_text()
        return text if "/ingest/[hidden]" in text and "?token=[hidden]" in text else ""

    text = wait_for(logged, timeout=10, what="the masked access log lines")
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz012345" not in text
    assert token not in text
