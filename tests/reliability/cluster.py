"""A console cluster of real processes on 127.0.0.1, for fault and load tests.

`Cluster` starts its own redis-server, web processes (daphne) and Celery workers (and
Celery beat, which runs the delivery sweeper) against the pytest test database, and kills
every one of them when it closes, whatever happened. `WebhookReceiver` is a receiver that
checks each delivery's Standard Webhooks signature, as an integrator would. `LiveClient`
is a program holding the live feed open: it reconnects and resumes after a drop, so what
it holds can be compared with the database; `LiveSwarm` runs many of them in a process
of their own.

Run as a module, this file is that swarm process (`live-swarm`), or a web process that
dies (SIGKILL) right after a notification commits, before anything follows it
(`crash-after-commit`).
"""

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import websockets
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.helpers import database_url, free_port, wait_for, wait_for_async

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CRASH_FLAG = "RELIABILITY_CRASH_AFTER_COMMIT"

# Small enough that a lost delivery is found within seconds: the sweeper runs every
# second and re-queues what has waited 2 s; a dead worker's claim runs out after 3 + 1 s;
# a failed attempt is retried within seconds.
FAST_DELIVERY_ENV = {
    "SWEEP_INTERVAL_SECONDS": "1",
    "DELIVERY_SWEEP_GRACE_SECONDS": "2",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "DELIVERY_LEASE_MARGIN_SECONDS": "1",
    "DELIVERY_RETRY_SCHEDULE": "0,1,2,2,2",
}


def clock() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """One child process, started again with the same command line after a kill."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 ready: Any = None) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.ready = ready
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> "Process":
        log = self.log_path.open("ab")
        log.write(f"--- start {self.starts + 1} ---\n".encode())
        log.flush()
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.starts += 1
        if self.ready is not None:
            wait_for(lambda: self.ready(self) or not self.alive, timeout,
                     what=f"{self.name} did not become ready")
            if not self.alive:
                raise AssertionError(f"{self.name} exited at start:\n{self.tail()}")
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process (and its children) and wait for it to end."""
        if not self.alive:
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.kill(sig)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class RedisServer(Process):
    """A redis-server of our own, with nothing saved: restarting it loses everything."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        super().__init__("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--maxclients", "4000",
        ], dict(os.environ), log_dir, ready=lambda p: port_open(p.port))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class WebProcess(Process):
    def __init__(self, name: str, env: dict[str, str], log_dir: Path,
                 crash_after_commit: bool = False) -> None:
        self.port = free_port()
        # As the Procfile starts one: through console.server, with its request caps.
        if crash_after_commit:
            argv = [sys.executable, "-m", "tests.reliability.cluster", "crash-after-commit"]
        else:
            argv = [sys.executable, "-m", "console.server"]
        argv += ["-b", "127.0.0.1", "-p", str(self.port)]
        super().__init__(name, argv, env, log_dir, ready=lambda p: port_open(p.port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _worker_ready(process: Process) -> bool:
    return " ready." in process.log_text().rsplit("--- start", 1)[-1]


class Cluster:
    """Redis, web processes, Celery workers and beat, on the test database. Use `with`."""

    def __init__(self, log_dir: Path, **extra_env: str) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(log_dir)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.redis.url,
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "INGEST_RATE": "1000000/min",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            **FAST_DELIVERY_ENV,
            **extra_env,
        }
        self.webs: list[WebProcess] = []
        self.workers: list[Process] = []
        self.beat: Process | None = None

    def __enter__(self) -> "Cluster":
        self.redis.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in [*self.webs, *self.workers, self.beat, self.redis]:
            if process is not None:
                process.kill()

    def add_web(self, crash_after_commit: bool = False, **extra_env: str) -> WebProcess:
        # As the Procfile runs web processes: with a connection pool.
        env = {**self.env, "DATABASE_POOL": "true", "DATABASE_POOL_SIZE": "8", **extra_env}
        if crash_after_commit:
            env[CRASH_FLAG] = "1"
        web = WebProcess(f"web{len(self.webs) + 1}", env, self.log_dir, crash_after_commit)
        self.webs.append(web)
        web.start()
        return web

    def add_worker(self, concurrency: int = 4) -> Process:
        name = f"worker{len(self.workers) + 1}"
        worker = Process(name, [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "--pool", "threads",
            "-c", str(concurrency), "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle", "--loglevel", "INFO",
        ], self.env, self.log_dir, ready=_worker_ready)
        self.workers.append(worker)
        worker.start()
        return worker

    def add_beat(self) -> Process:
        self.beat = Process("beat", [
            str(VENV_BIN / "celery"), "-A", "console", "beat", "--loglevel", "INFO",
            "-s", str(self.log_dir / "beat-schedule"),
        ], self.env, self.log_dir, ready=lambda p: "beat: Starting" in p.log_text())
        self.beat.start()
        return self.beat

    @property
    def urls(self) -> list[str]:
        return [web.url for web in self.webs]

    def errors_logged(self) -> str:
        """Tracebacks in any process' log (for a failing test's message)."""
        found = []
        for process in [*self.webs, *self.workers]:
            if "Traceback" in process.log_text():
                found.append(f"== {process.name}\n{process.tail(40)}")
        return "\n".join(found)


def api_token(base_url: str, username: str, password: str) -> str:
    """An API token, as a program gets one: POST /api/v1/auth/token/."""
    answer = httpx.post(f"{base_url}/api/v1/auth/token/", timeout=30,
                        json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


# -- The webhook receiver ------------------------------------------------------------------

@dataclass
class WebhookReceiver:
    """Verifies every delivery with standardwebhooks and keeps (webhook-id, body)."""

    secrets: list[str] = field(default_factory=list)
    received: list[tuple[str, dict]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request: nothing arrived
                receiver._keep(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _keep(self, body: bytes, headers: dict[str, str]) -> None:
        for secret in self.secrets:
            try:
                payload = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            with self._lock:
                self.received.append((headers["webhook-id"], payload))
            return
        with self._lock:
            self.rejected.append(headers.get("webhook-id", "?"))

    def notification_ids(self) -> dict[int, set[str]]:
        """For each notification delivered, the webhook-ids it arrived with."""
        with self._lock:
            found: dict[int, set[str]] = {}
            for webhook_id, payload in self.received:
                found.setdefault(payload["data"]["id"], set()).add(webhook_id)
            return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- The live feed client ------------------------------------------------------------------

class LiveClient:
    """A program on the live feed: keeps every notification it is sent, by id.

    After a drop it reconnects (to the next web process when it has several) and sends
    {"type": "resume", "after": <newest id held>}, as the contract tells programs to.
    A socket that drops before its resume was answered resumes from the same point again:
    the live items it got meanwhile are newer than the gap the resume was to fill. The
    server answers a socket's messages in order, so its answer to a second message sent
    right after the resume (any other type: an error) marks the resume's end.
    """

    def __init__(self, base_urls: list[str], token: str, first: int = 0) -> None:
        self.base_urls = base_urls
        self.token = token
        self.first = first  # which web process it opens first (spreads clients over them)
        self.items: dict[int, dict] = {}
        self.connects = 0
        self.resume_after = 0  # everything up to here is held, or will be on resume
        self._resuming = False
        self.timeline: list[str] = []  # when it connected and dropped, for failure messages
        self.unread_count: int | None = None
        self.on_item: Any = None  # called with each notification item as it arrives
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    def _url(self, attempt: int) -> tuple[str, str]:
        base = self.base_urls[(self.first + attempt) % len(self.base_urls)]
        return base.replace("http://", "ws://") + f"/ws/notifications/?token={self.token}", base

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        attempt = failures = 0
        while not self._stopping:
            url, origin = self._url(attempt)
            attempt += 1
            try:
                async with websockets.connect(url, origin=origin, open_timeout=30,
                                              ping_interval=None, max_queue=None) as socket_:
                    self.connects += 1
                    failures = 0
                    self.timeline.append(f"{clock()} connected to {origin}")
                    if self.connects > 1:
                        self._resuming = True
                        await socket_.send(json.dumps(
                            {"type": "resume", "after": self.resume_after}))
                        await socket_.send(json.dumps({"type": "resume-answered?"}))
                    self.connected.set()
                    async for text in socket_:
                        self._take(json.loads(text))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a drop, a refused handshake, a server away: again
                self.timeline.append(f"{clock()} {error!r:.80}")
                failures += 1
            self.connected.clear()
            if not self._resuming:
                self.resume_after = max(self.items, default=0)
            if not self._stopping:
                # Back off, with jitter, as a browser does: a thousand sockets retrying at
                # once would keep a recovering server busy with handshakes.
                await asyncio.sleep(min(5.0, 0.2 * 2 ** failures) * random.uniform(0.5, 1.0))

    def _take(self, message: dict) -> None:
        if message.get("type") == "notification":
            item = message["notification"]
            self.items[item["id"]] = item
            if "unread_count" in message:
                self.unread_count = message["unread_count"]
            if self.on_item is not None:
                self.on_item(item)
        elif message.get("type") == "unread_count":
            self.unread_count = message["count"]
        elif message.get("type") == "error":
            self._resuming = False


# -- A web process that dies between a notification's commit and what follows it ----------

def crash_after_commit(daphne_args: list[str]) -> None:
    """Run the web process (console.server) with `notification_committed` replaced by an
    instant SIGKILL of this process: the notification and its deliveries are stored,
    nothing was queued, and the rack never got its answer."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    django.setup()
    from notifications import pipeline

    def die(*what_it_holds: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if os.environ.get(CRASH_FLAG) == "1":
        pipeline.notification_committed = die
    from console import server

    server.main(daphne_args)


# -- Many live clients in a process of their own ------------------------------------------

class LiveSwarm:
    """Many LiveClients in a child process, so their thousands of messages a second do not
    slow the process that measures the requests. Arrival times are CLOCK_MONOTONIC, the
    same clock as the parent's time.monotonic()."""

    def __init__(self, urls: list[str], tokens: list[str], batch: int = 25) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.cluster", "live-swarm"], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._say({"urls": urls, "tokens": tokens, "batch": batch})

    def _say(self, message: dict) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(message) + "\n")
        self.popen.stdin.flush()

    def _hear(self) -> dict:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise AssertionError("the live swarm process ended early")
        return json.loads(line)

    def opened(self) -> float:
        """Wait until every socket is open; answers how long opening took."""
        return self._hear()["opened_in"]

    def finish(self, expected: list[list[int]], timeout: float) -> list[dict]:
        """Wait (up to `timeout`) until socket i holds expected[i], close them all, and
        answer each one's {"items": ids, "connects": n, "arrivals": [[seq, t], ...]}."""
        self._say({"expected": expected, "timeout": timeout})
        return self._hear()["clients"]

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)


async def _swarm() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)  # the expected ids come as one line
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    setup = json.loads(await reader.readline())
    clients = [LiveClient(setup["urls"], token, first=i)
               for i, token in enumerate(setup["tokens"])]
    arrivals: list[list] = [[] for _ in clients]
    for client, seen in zip(clients, arrivals, strict=True):
        client.on_item = lambda item, seen=seen: seen.append(
            [item["data"].get("seq"), time.monotonic()])
    began = time.monotonic()
    for n in range(0, len(clients), setup["batch"]):
        batch = clients[n:n + setup["batch"]]
        for client in batch:
            client.start()
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in batch)), 60)
    say({"opened_in": time.monotonic() - began})

    finish = json.loads(await reader.readline())
    wanted = [set(ids) for ids in finish["expected"]]
    # Whether or not all arrived in time, the report says what each client got.
    with contextlib.suppress(AssertionError):
        await wait_for_async(lambda: all(
            ids <= client.items.keys() for ids, client in zip(wanted, clients, strict=True)),
            timeout=finish["timeout"], interval=0.2)
    for client in clients:
        await client.stop()
    say({"clients": [{"items": list(c.items), "connects": c.connects, "arrivals": seen}
                     for c, seen in zip(clients, arrivals, strict=True)]})


def main(argv: list[str]) -> None:
    if argv[:1] == ["crash-after-commit"]:
        crash_after_commit(argv[1:])
    elif argv[:1] == ["live-swarm"]:
        asyncio.run(_swarm())
    else:
        raise SystemExit("usage: python -m tests.reliability.cluster "
                         "crash-after-commit <console.server arguments> | live-swarm")


if __name__ == "__main__":
    main(sys.argv[1:])
