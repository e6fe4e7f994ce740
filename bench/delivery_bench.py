"""Webhook and email delivery throughput, beside bare senders measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/delivery_bench \
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/delivery_bench.py

Webhooks: N notifications, each with one webhook delivery to a local receiver, are
recorded through the pipeline with their tasks held back; then, with a real Celery
worker (threads) on Redis, the tasks are queued as the pipeline queues them and the
clock runs until the last delivery is marked delivered: claim, sign, check the address,
POST, log the attempt. The baseline posts the same bodies to the same receiver with one
bare `httpx.AsyncClient`, at the worker's concurrency and at as many requests in flight
as the console may have (threads x batch), the better of the two counting. Bare and
console runs alternate for --rounds rounds (the deliveries are put back to pending
between rounds), so both meet the same load on a shared machine; the ratio reported is
the median of the rounds' ratios. Email: N notification emails through the same worker
and Django's SMTP backend to a local aiosmtpd server, beside bare smtplib sending the
same rendered messages over one connection. It works in a throw-away database
(bench_<name>), created and dropped here, and purges the Celery queue of REDIS_URL.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The console under test: this checkout, or the one bench/ab.py names, so that one
# copy of the bench can measure two checkouts.
BASE_DIR = Path(os.environ.get("BENCH_CHECKOUT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/delivery_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# The console refuses to start without these when DEBUG is off; bench-only values.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-4e8d1c7b2a9f6e3d0c5b8a7f4e1d2c3b")
os.environ.setdefault("ENCRYPTION_KEYS", "Sgp5RX1T6YweHWMAYYCqM1MZo02YL75tm9pAylt9wKw=")
os.environ["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the bare client can reuse connections
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Receiver.lock:
            Receiver.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class ReceiverServer(ThreadingHTTPServer):
    # A real receiver's listen backlog (nginx: 511), not socketserver's 5: with 5, a
    # sender opening many connections at once has SYNs dropped and waits a second.
    request_queue_size = 512
    daemon_threads = True


def _serve(ports) -> None:
    server = ReceiverServer(("127.0.0.1", 0), Receiver)
    ports.put(server.server_address[1])
    server.serve_forever()


def start_receiver() -> tuple[multiprocessing.Process, int]:
    """The receiver runs in its own process, so it takes no CPU from either sender."""
    ports = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    process.start()
    return process, ports.get(timeout=10)


@contextlib.contextmanager
def worker_process(pool: str, concurrency: int, **env: str):
    """`celery -A console worker`, as the console runs it, on the bench's database."""
    from django.db import connection

    db = connection.settings_dict
    url = (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
           f"{db['PORT'] or 5432}/{db['NAME']}")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool", pool,
         "--concurrency", str(concurrency), "--without-heartbeat", "--without-mingle",
         "--without-gossip", "--loglevel", "ERROR"],
        cwd=BASE_DIR, env={**os.environ, "DATABASE_URL": url, **env},
        stdout=subprocess.DEVNULL)
    try:
        from console.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):  # the clock starts once it consumes
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the worker did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


async def bare_webhooks(url: str, bodies: list[bytes], concurrency: int) -> float:
    import httpx

    queue = list(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:
        async def worker() -> None:
            while queue:
                body = queue.pop()
                reply = await client.post(url, content=body,
                                          headers={"Content-Type": "application/json"})
                assert reply.status_code == 204
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the bench timed out waiting for deliveries")
        time.sleep(0.02)


def hold_tasks(record) -> list[list[int]]:
    """Run `record()` with the deliveries the pipeline queues kept, not sent."""
    from notifications.delivery import outbox

    held: list[list[int]] = []
    real_enqueue = outbox.enqueue
    outbox.enqueue = held.append
    try:
        record()
    finally:
        outbox.enqueue = real_enqueue
    return held


def release(held: list[list[int]]) -> None:
    """Queue the held tasks as the pipeline would have, one call per notification."""
    from notifications.delivery import outbox

    for delivery_ids in held:
        outbox.enqueue(delivery_ids)


def send_again(deliveries) -> None:
    """Put delivered rows back to pending, due now, for the next round."""
    from django.utils import timezone

    from notifications.models import DeliveryAttempt, DeliveryStatus

    DeliveryAttempt.objects.filter(delivery__in=deliveries).delete()
    deliveries.update(status=DeliveryStatus.PENDING, attempts=0, attempts_before_resend=0,
                      delivered_at=None,
                      last_status_code=None, next_attempt_at=timezone.now())


def timed_console_run(held: list[list[int]], deliveries, count: int, *,
                      queued_beforehand: bool) -> float:
    """Deliveries per second. Queued beforehand: the worker stops consuming, the tasks are
    queued, and the clock starts when it consumes again (the web processes queue tasks in
    parallel, after each commit). Otherwise the clock also runs while this one thread
    queues them one after the other."""
    from console.celery import app
    from notifications.models import DeliveryStatus

    done = deliveries.filter(status=DeliveryStatus.DELIVERED)
    queue = app.conf.task_default_queue
    if queued_beforehand:
        app.control.cancel_consumer(queue, reply=True)
        release(held)
        started = time.perf_counter()
        # It waits out the control command's 1 s for replies while the worker already
        # consumes: this way never reads above ~1,000 deliveries a second for 1,000
        # deliveries, a floor on the console's time, never a help.
        app.control.add_consumer(queue, reply=True)
    else:
        started = time.perf_counter()
        release(held)
    wait_until(lambda: done.count() == count, timeout=600)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of pause before each timed run (the database's "
                             "autovacuum and checkpoints after a run)")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads (Procfile: 8)")
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork"])
    parser.add_argument("--batch", type=int, default=None,
                        help="deliveries per task (DELIVERY_BATCH_SIZE; default: settings)")
    args = parser.parse_args()

    import django
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import setup_databases, teardown_databases

    from console.celery import app
    from notifications.delivery.endpoints import create_endpoint
    from notifications.delivery.senders import StandardSender, delivery_item
    from notifications.envelope import Envelope
    from notifications.models import Delivery
    from notifications.pipeline import record_event
    from notifications.preferences import set_preference
    from racks.models import Membership, Organization, Rack

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    args.batch = args.batch or settings.DELIVERY_BATCH_SIZE
    # As many requests in flight as the console may have: each worker thread sends a batch.
    in_flight = args.concurrency * args.batch
    name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_{name}"
    databases = setup_databases(verbosity=0, interactive=False)
    receiver, port = start_receiver()
    url = f"http://127.0.0.1:{port}/hook"
    rounds: list[tuple[float, ...]] = []
    try:
        app.control.purge()
        org = Organization.objects.create(name="Bench", slug="bench")
        rack = Rack.objects.create(organization=org, name="bench")
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        Membership.objects.create(organization=org, user=user)
        set_preference(user, event_type="*", channels=["webhook"])
        endpoint, _ = create_endpoint(user, url=url, events=["*"])

        # Store the notifications first, their tasks held back, so that the clock
        # measures delivery alone.
        held = hold_tasks(lambda: [
            record_event(rack, Envelope("app:create", data={"app": f"app{n}", "rack": "bench"}))
            for n in range(args.webhooks)])
        deliveries = Delivery.objects.filter(endpoint=endpoint)
        count = deliveries.count()
        sender = StandardSender()
        bodies = [json.dumps(sender.body(d, delivery_item(d)), separators=(",", ":"),
                             ensure_ascii=False).encode()
                  for d in deliveries.select_related("notification__rack", "endpoint")]

        with worker_process(args.pool, args.concurrency, DELIVERY_BATCH_SIZE=str(args.batch)):
            for _ in range(args.rounds):
                time.sleep(args.settle)
                bare_rate = max(len(bodies) / asyncio.run(bare_webhooks(url, bodies, c))
                                for c in (args.concurrency, in_flight))
                rates = [bare_rate]
                for queued_beforehand in (True, False):
                    send_again(deliveries)
                    time.sleep(args.settle)
                    rates.append(timed_console_run(held, deliveries, count,
                                                   queued_beforehand=queued_beforehand))
                rounds.append(tuple(rates))

        email_rate, bare_email_rate = bench_email(args, user, rack)
    finally:
        receiver.terminate()
        teardown_databases(databases, verbosity=0)

    print(f"webhooks: {count} deliveries x {args.rounds} rounds; a {args.pool} worker of "
          f"concurrency {args.concurrency}, batches of {args.batch}; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    for number, (bare_rate, queued, producing) in enumerate(rounds, 1):
        print(f"  round {number}: bare httpx {bare_rate:7.1f} posts/s | console, tasks queued "
              f"beforehand {queued:7.1f}/s ({queued / bare_rate:4.2f}x) | console, queued by "
              f"one thread as the clock runs {producing:7.1f}/s ({producing / bare_rate:4.2f}x)")
    for label, column in (("tasks queued beforehand", 1), ("queued by one thread", 2)):
        ratio = statistics.median(r[column] / r[0] for r in rounds)
        print(f"  median ratio console/bare, {label:24}: {ratio:5.2f}")
    print(f"  (bare: the best of concurrency {args.concurrency} and {in_flight}; goal >= 0.5)")
    print(f"email: {args.emails} messages")
    print(f"  bare smtplib, one conn  : {bare_email_rate:8.1f} messages/s")
    print(f"  console (Celery worker) : {email_rate:8.1f} messages/s")
    print(f"  ratio console/bare      : {email_rate / bare_email_rate:8.2f}")


def bench_email(args, user, rack) -> tuple[float, float]:
    from aiosmtpd.controller import Controller

    from notifications.delivery.emails import notification_email
    from notifications.envelope import Envelope
    from notifications.models import Delivery
    from notifications.pipeline import record_event
    from notifications.preferences import set_preference

    class Mailbox:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Mailbox.count += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        set_preference(user, event_type="*", channels=["email"])
        held = hold_tasks(lambda: [
            record_event(rack, Envelope("build:create", "error",
                                        data={"id": "BAAAAAAAAAA", "app": f"app{n}"}))
            for n in range(args.emails)])
        emails = Delivery.objects.filter(channel="email")

        # The same messages, rendered beforehand: the bare sender only transports them.
        messages = [notification_email(d).message().as_bytes(linesep="\r\n") for d in
                    emails.select_related("notification__rack", "user")]
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for message in messages:
                smtp.sendmail("console@localhost", ["bench@example.com"], message)
        bare_rate = len(messages) / (time.perf_counter() - started)

        with worker_process(args.pool, args.concurrency,
                            EMAIL_URL=f"smtp://127.0.0.1:{port}",
                            DELIVERY_BATCH_SIZE=str(args.batch)):
            rate = timed_console_run(held, emails, len(messages), queued_beforehand=True)
    finally:
        controller.stop()
    return rate, bare_rate


if __name__ == "__main__":
    main()
