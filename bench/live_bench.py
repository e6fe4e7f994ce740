"""How fast a rack event reaches 1,000 open dashboards, beside a bare broadcast server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/live_bench \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/live_bench.py

The console: one daphne process (as the Procfile runs it, with a connection pool); N
users of one organization each hold one logged-in websocket; each event is POSTed to the
rack's ingest URL (stored, addressed to N feeds, pushed). Latency is from just before the
POST to each socket's receipt of the notification. The baseline: a bare `websockets`
server that relays every Redis PUBLISH to all its sockets, fed a notification of the same
size, measured with the same clients in the same run. Memory per idle connection is the
server's RSS growth over N connections, from a server that has answered its first request
and whose processes' memory holds still.
The clients are websockets' sans-I/O protocol on the event loop's own transports (Client);
`--client asyncio` reads through websockets' asyncio client instead, whose own cost per
frame makes the client, not the server, the slowest part. `--web N` runs N console processes;
`--server uvicorn` runs the same console under uvicorn instead of daphne.
"CPU us/msg" is the server process' CPU time during the burst per message delivered: the
cost of the rate, whatever else the machine is doing.
"""

import argparse
import asyncio
import inspect
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import websockets
from websockets.client import ClientProtocol
from websockets.frames import CloseCode, Frame, Opcode
from websockets.typing import Origin
from websockets.uri import parse_uri

# The console under test: this checkout, or the one bench/ab.py names, so that one
# copy of the bench can measure two checkouts.
BASE_DIR = Path(os.environ.get("BENCH_CHECKOUT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/live_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# The console refuses to start without these when DEBUG is off; bench-only values.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-4e8d1c7b2a9f6e3d0c5b8a7f4e1d2c3b")
os.environ.setdefault("ENCRYPTION_KEYS", "Sgp5RX1T6YweHWMAYYCqM1MZo02YL75tm9pAylt9wKw=")
os.environ.setdefault("INGEST_RATE", "1000000/min")

BARE_CHANNEL = "live-bench"


# --- the baseline: a bare broadcast server ------------------------------------------------

async def bare_server(port: int) -> None:
    import redis.asyncio as redis
    import websockets

    sockets: set = set()

    async def hold(ws) -> None:
        sockets.add(ws)
        try:
            await ws.wait_closed()
        finally:
            sockets.discard(ws)

    async with websockets.serve(hold, "127.0.0.1", port, compression=None):
        pubsub = redis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
        await pubsub.subscribe(BARE_CHANNEL)
        async for message in pubsub.listen():
            if message["type"] == "message":
                websockets.broadcast(sockets, message["data"].decode())


# --- the clients (the same for both servers) ---------------------------------------------

# A notification frame, from either server, starts with its id.
NOTIFICATION_ID = re.compile(rb'\{"type": ?"notification", ?"notification": ?\{"id": ?(\d+)')


class Client(asyncio.Protocol):
    """One dashboard's socket: websockets' sans-I/O client, fed by an asyncio transport.

    1,000 browsers each read one frame on their own machine; here one process reads all
    of them, on the 2 CPUs the server under test also uses. websockets' asyncio client
    costs ~40-70 us a frame here (a task, a queue and futures per socket) and made the
    client, not the server, set the tail. Its sans-I/O protocol, called straight from
    the transport's callback, costs ~3.5 us a frame: the handshake, pings, the close
    and the framing are the library's; this class only notes when each notification's
    bytes arrived (one timestamp per read: frames read together arrived together).
    """

    def __init__(self, url: str, headers: dict[str, str], origin: str,
                 arrivals: dict[int, list[float]]) -> None:
        self.protocol = ClientProtocol(parse_uri(url), origin=Origin(origin))
        request = self.protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self.arrivals = arrivals
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.flush()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    found = NOTIFICATION_ID.match(event.data)
                    if found:
                        self.arrivals[int(found[1])].append(now)
            elif protocol.handshake_exc is not None:
                # A ConnectionError, so that _open retries as a browser would.
                self.opened.set_exception(ConnectionError(str(protocol.handshake_exc)))
            else:
                self.opened.set_result(None)
        self.flush()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))

    def close(self) -> None:
        if not self.transport.is_closing():
            self.protocol.send_close(CloseCode.NORMAL_CLOSURE)
            self.flush()

    def flush(self) -> None:
        """Write what the protocol has to send (pongs, the close); hang up when it is done.

        A client should wait for the server to close TCP after the close frames; the
        bench does not need to, so it closes (after the buffered bytes are written)."""
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.protocol.close_expected():
            self.transport.close()


class Fleet:
    """N websocket clients that note when each notification reaches each of them.

    `asyncio_client=True` reads through websockets' asyncio client instead, to show what
    the client's own cost does to the figures.
    """

    def __init__(self, asyncio_client: bool = False) -> None:
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.asyncio_client = asyncio_client
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []

    async def connect(self, url: str, headers: list[dict[str, str]], origin: str) -> None:
        one = self._open_asyncio if self.asyncio_client else self._open
        for start in range(0, len(headers), 50):
            await asyncio.gather(*(one(url, h, origin) for h in headers[start:start + 50]))

    async def _open(self, url: str, extra: dict[str, str], origin: str) -> None:
        address = parse_uri(url)
        loop = asyncio.get_running_loop()
        for attempt in range(5):  # as a browser does, with backoff
            client = Client(url, extra, origin, self.arrivals)
            try:
                await loop.create_connection(lambda client=client: client, address.host,
                                             address.port)
                await asyncio.wait_for(client.opened, 60)
                break
            except (TimeoutError, OSError):
                if client.transport is not None:
                    client.transport.close()
                await asyncio.sleep(0.5 * 2 ** attempt)
        else:
            raise RuntimeError("a client could not connect")
        self.sockets.append(client)

    async def _open_asyncio(self, url: str, extra: dict[str, str], origin: str) -> None:
        for attempt in range(5):  # as a browser does, with backoff
            try:
                ws = await websockets.connect(url, origin=origin, additional_headers=extra,
                                              compression=None, max_queue=None,
                                              open_timeout=60, ping_interval=None)
                break
            except (OSError, websockets.exceptions.InvalidMessage):
                await asyncio.sleep(0.5 * 2 ** attempt)
        else:
            raise RuntimeError("a client could not connect")
        self.sockets.append(ws)
        self.tasks.append(asyncio.create_task(self._listen(ws)))

    async def _listen(self, ws) -> None:
        arrivals, now = self.arrivals, time.perf_counter
        try:
            async for text in ws:
                if '"notification"' not in text[:30]:
                    continue  # unread counts
                arrivals[json.loads(text)["notification"]["id"]].append(now())
        except Exception:  # noqa: BLE001 - a dropped client just stops counting
            return

    async def wait_for(self, ids: list[int], n: int, timeout: float = 30) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(len(self.arrivals.get(i, ())) >= n for i in ids):
                return True
            await asyncio.sleep(0.002)
        return False

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.asyncio_client:
            await asyncio.gather(*(ws.close() for ws in self.sockets),
                                 return_exceptions=True)
            return
        for client in self.sockets:
            client.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the server processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the server answers an HTTP request (any status), not merely accepts.

    The console's processes share a socket bound before they start, which accepts
    connections while daphne is still importing Django; a memory reading taken then
    would charge the rest of its start-up to the connections.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                probe.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if probe.recv(16).startswith(b"HTTP/1.1 "):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def wait_settled(pids: list[int], timeout: float = 60) -> None:
    """Until every process' memory holds still: with several processes on one socket, the
    one that answered wait_port may not be the only one that has finished starting."""
    deadline = time.monotonic() + timeout
    last = [rss_kib([pid]) for pid in pids]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = [rss_kib([pid]) for pid in pids]
        if all(abs(a - b) < 256 for a, b in zip(now, last, strict=True)):
            return
        last = now
    raise RuntimeError("the server processes did not settle")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- measuring one server ----------------------------------------------------------------

async def measure(name: str, pids: list[int], fleet_url: str, origin: str,
                  headers: list[dict[str, str]], send, events: int, burst: int,
                  measure_memory: bool = True, asyncio_client: bool = False) -> dict:
    """`send(seq)` starts one event and returns (t0, notification id)."""
    n = len(headers)
    fleet = Fleet(asyncio_client=asyncio_client)
    await asyncio.sleep(1)
    before = rss_kib(pids)
    t = time.perf_counter()
    await fleet.connect(fleet_url, headers, origin)
    connect_seconds = time.perf_counter() - t
    await asyncio.sleep(2)
    after = rss_kib(pids)

    # Warm up, then one event at a time: latency.
    for seq in range(3):
        _, nid = await send(-1 - seq)
        await fleet.wait_for([nid], n)
    latencies: list[float] = []
    spreads: list[float] = []  # first to last socket of one event: the fan-out itself
    firsts: list[float] = []  # to the first socket: what comes before the fan-out
    missing = 0
    for seq in range(events):
        t0, nid = await send(seq)
        if not await fleet.wait_for([nid], n, timeout=10):
            missing += n - len(fleet.arrivals[nid])
        latencies += [(a - t0) * 1000 for a in fleet.arrivals[nid]]
        if fleet.arrivals[nid]:
            spreads.append((max(fleet.arrivals[nid]) - min(fleet.arrivals[nid])) * 1000)
            firsts.append((min(fleet.arrivals[nid]) - t0) * 1000)
        await asyncio.sleep(0.02)

    # Many events at once, eight senders: deliveries per second.
    started, cpu_before = time.perf_counter(), cpu_seconds(pids)
    queue = list(range(events, events + burst))
    sent: list[int] = []

    async def sender() -> None:
        while queue:
            _, nid = await send(queue.pop())
            sent.append(nid)
    await asyncio.gather(*(sender() for _ in range(8)))
    complete = await fleet.wait_for(sent, n, timeout=120)
    last = max(max(fleet.arrivals[i]) for i in sent if fleet.arrivals[i])
    delivered = sum(len(fleet.arrivals[i]) for i in sent)
    server_cpu = cpu_seconds(pids) - cpu_before
    await fleet.close()
    return {
        "name": name, "clients": n, "connect_s": connect_seconds,
        "p50_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies), "spread_ms": statistics.median(spreads),
        "first_ms": statistics.median(firsts),
        "missing": missing + (0 if complete else n * burst - delivered),
        "rate": delivered / (last - started), "burst_s": last - started,
        "kib_per_conn": (after - before) / n if measure_memory else None,
        # The server's CPU time per message delivered in the burst: what the rate costs,
        # whatever else the machine is doing.
        "cpu_us_per_msg": server_cpu / max(delivered, 1) * 1e6,
    }


# --- the console side --------------------------------------------------------------------

def prepare_console(n: int) -> tuple[object, list[str]]:
    """A fresh bench database: one organization, one rack, n members with sessions."""
    import django
    import psycopg

    url = os.environ["DATABASE_URL"]
    dbname = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from racks.models import Membership, Organization, Rack, Role

    call_command("migrate", verbosity=0)
    User = get_user_model()
    password = make_password("bench-password")
    users = User.objects.bulk_create(
        User(username=f"bench-{i}", email=f"bench-{i}@example.com", password=password)
        for i in range(n))
    org = Organization.objects.create(name="Bench", slug="bench")
    Membership.objects.bulk_create(
        Membership(organization=org, user=u, role=Role.MEMBER) for u in users)
    rack = Rack.objects.create(organization=org, name="bench-rack", version="3.24.6")
    keys = []
    for user in users:
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return rack, keys


async def run(args: argparse.Namespace, rack: object, keys: list[str]) -> list[dict]:
    import httpx
    import redis.asyncio as redis

    results = []

    # The console.
    # As the Procfile runs web processes: with a connection pool; several share one
    # listening socket, and the kernel hands each connection to one of them.
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "ERROR", "DATABASE_POOL": "true"}
    server = [sys.executable, "-m", "console.server", "--fd", "{fd}"]  # as the Procfile
    if args.server == "uvicorn":  # pip install -e ".[bench]"
        server = [str(Path(sys.executable).with_name("uvicorn")), "--fd", "{fd}",
                  "--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "error",
                  "console.asgi:application"]
    log = open(BASE_DIR / "var" / "live_bench_daphne.log", "w")  # noqa: SIM115
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    webs = [subprocess.Popen([part.format(fd=listener.fileno()) for part in server],
                             cwd=BASE_DIR, env=env,
                             stdout=log, stderr=log, start_new_session=True,
                             pass_fds=[listener.fileno()]) for _ in range(args.web)]
    listener.close()
    pids = [web.pid for web in webs]
    try:
        for web in webs:
            wait_port(port, web)
        wait_settled(pids)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     limits=httpx.Limits(max_connections=16)) as http:
            async def send(seq: int) -> tuple[float, int]:
                body = json.dumps({"action": "release:create", "status": "success",
                                   "data": {"rack": rack.name, "app": "web",
                                            "id": "RBENCHBENCH", "seq": str(seq)}})
                t0 = time.perf_counter()
                response = await http.post(rack.ingest_path, content=body,
                                           headers={"Idempotency-Key": f"bench-{seq}"})
                if response.status_code != 202:
                    raise SystemExit(f"the ingest URL answered {response.status_code}: "
                                     f"{response.text[:200]}")
                return t0, response.json()["notification"]
            sockets = [{"Cookie": f"sessionid={k}"} for k in keys]
            ws_url = f"ws://127.0.0.1:{port}/ws/notifications/"
            results.append(await measure(
                "console: ingest POST -> socket", pids, ws_url, base, sockets, send,
                args.events, args.burst, asyncio_client=args.client == "asyncio"))
            stored = [await send(-1000 - i) for i in range(args.events + args.burst + 3)]

            def stored_with_readers(nid: int) -> tuple[object, list[int]]:
                """What the pipeline hands the push: the notification and its readers."""
                from notifications.models import FeedEntry, Notification

                readers = list(FeedEntry.objects.filter(notification_id=nid)
                               .values_list("user_id", flat=True))
                return Notification.objects.select_related("rack").get(pk=nid), readers

            try:
                from notifications.live.push import broadcast_notification
            except ImportError:  # a checkout with notifications/live.py (bench/ab.py's A)
                from notifications.live import broadcast_notification
            by_id = "notification_id" in inspect.signature(broadcast_notification).parameters

            def broadcast(notification: object, readers: list[int]) -> None:
                if by_id:  # that checkout's signature: the id, then what the pipeline holds
                    broadcast_notification(notification.pk, notification=notification,
                                           users=readers)
                else:
                    broadcast_notification(notification, readers)

            async def push(seq: int) -> tuple[float, int]:
                nid = stored.pop()[1]
                notification, readers = await asyncio.to_thread(stored_with_readers, nid)
                t0 = time.perf_counter()
                await asyncio.to_thread(broadcast, notification, readers)
                return t0, nid
            results.append(await measure(
                "console: broadcast -> socket", pids, ws_url, base, sockets, push,
                args.events, args.burst, measure_memory=False,
                asyncio_client=args.client == "asyncio"))
    finally:
        for web in webs:
            stop(web)
        log.close()

    # The bare server, with a payload as large as the console's notification message.
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)],
                               cwd=BASE_DIR, start_new_session=True)
    try:
        wait_port(port, process)
        wait_settled([process.pid])
        publisher = redis.Redis.from_url(os.environ["REDIS_URL"])
        item = {"id": 0, "message": "[bench-rack] Created release RBENCHBENCH for app web",
                "action": "release:create", "status": "success", "severity": "info",
                "event_type": "release:create", "rack": 1, "rack_name": "bench-rack",
                "app": "web", "data": {"rack": "bench-rack", "app": "web",
                                       "id": "RBENCHBENCH", "seq": "0"},
                "occurred_at": "2026-01-01T00:00:00.000000Z",
                "created_at": "2026-01-01T00:00:00.000000Z", "read": False}
        counter = iter(range(1, 10**9))

        async def publish(seq: int) -> tuple[float, int]:
            nid = next(counter)
            payload = json.dumps({"type": "notification", "notification": {**item, "id": nid}})
            t0 = time.perf_counter()
            await publisher.publish(BARE_CHANNEL, payload)
            return t0, nid
        results.append(await measure(
            "bare websockets + Redis PUBLISH", [process.pid], f"ws://127.0.0.1:{port}/",
            f"http://127.0.0.1:{port}", [{} for _ in keys], publish, args.events, args.burst,
            asyncio_client=args.client == "asyncio"))
        await publisher.aclose()
    finally:
        stop(process)
    return results


def report(results: list[dict], args: argparse.Namespace) -> str:
    ingest, console, bare = results
    lines = [
        f"{'':32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'first':>8} {'spread':>8} "
        f"{'msg/s':>9} {'KiB/conn':>9} {'missing':>8} {'connect s':>9} {'CPU us/msg':>10}",
    ]
    for r in results:
        memory = "" if r["kib_per_conn"] is None else f"{r['kib_per_conn']:.1f}"
        lines.append(f"{r['name']:32} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['max_ms']:8.1f} "
                     f"{r['first_ms']:8.1f} {r['spread_ms']:8.1f} {r['rate']:9.0f} {memory:>9} "
                     f"{r['missing']:8d} "
                     f"{r['connect_s']:9.1f} {r['cpu_us_per_msg']:10.1f}")
    lines += [
        "",
        f"clients: {console['clients']} ({args.client}); console: {args.web} "
        f"{args.server} process(es); "
        "broadcast rate ratio console/bare: "
        f"{console['rate'] / bare['rate']:.2f} (goal >= 0.5); memory per connection ratio: "
        f"{ingest['kib_per_conn'] / max(bare['kib_per_conn'], 0.1):.2f} (goal <= 3); "
        f"p99 ingest -> socket {ingest['p99_ms']:.1f} ms, broadcast -> socket "
        f"{console['p99_ms']:.1f} ms (goal < 100)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--web", type=int, default=1,
                        help="console web processes (the bare server is always one)")
    parser.add_argument("--events", type=int, default=200, help="one at a time, for latency")
    parser.add_argument("--burst", type=int, default=200, help="all at once, for msg/s")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne",
                        help="the console's ASGI server (uvicorn: to compare; needs the "
                             "bench extra)")
    parser.add_argument("--client", choices=["sansio", "asyncio"], default="sansio",
                        help="how the clients read: websockets' sans-I/O protocol on the "
                             "event loop's transports (default) or its asyncio client")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        asyncio.run(bare_server(args.bare_server))
        return
    (BASE_DIR / "var").mkdir(exist_ok=True)
    rack, keys = prepare_console(args.clients)
    print(report(asyncio.run(run(args, rack, keys)), args))


if __name__ == "__main__":
    main()
