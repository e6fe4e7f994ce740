"""Webhook and email delivery throughput, beside bare senders measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helper_c \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/delivery_bench.py

Webhooks: N notifications, each with one webhook delivery to a local receiver, are
recorded through the pipeline; the clock runs from the first queued task to the last
delivery marked delivered, with a real Celery worker (threads) on Redis doing the work:
claim the row, sign, check the address, POST, log the attempt. The baseline posts the
same bodies to the same receiver with one bare `httpx.AsyncClient` at the same
concurrency. Email: N notification emails through the same worker and Django's SMTP
backend to a local aiosmtpd server, beside bare smtplib sending the same messages.
It works in a throw-away test database (test_<name>), created and dropped here.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helper_c")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
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


def _serve(ports) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
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
        cwd=BASE_DIR, env={**os.environ, "DATABASE_URL": url, **env})
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
    async with httpx.AsyncClient(timeout=15) as client:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork"])
    args = parser.parse_args()

    import django
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import setup_databases, teardown_databases

    from console.celery import app
    from notifications.delivery import outbox
    from notifications.delivery.endpoints import create_endpoint
    from notifications.delivery.senders import StandardSender, delivery_item
    from notifications.envelope import Envelope
    from notifications.models import Delivery, DeliveryStatus
    from notifications.pipeline import record_event
    from notifications.preferences import set_preference
    from racks.models import Membership, Organization, Rack

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_{name}"
    databases = setup_databases(verbosity=0, interactive=False)
    receiver, port = start_receiver()
    url = f"http://127.0.0.1:{port}/hook"
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
        held: list[int] = []
        real_queue = outbox.queue_deliveries
        outbox.queue_deliveries = lambda notification_id: held.append(notification_id)
        for n in range(args.webhooks):
            record_event(rack, Envelope("app:create", data={"app": f"app{n}", "rack": "bench"}))
        outbox.queue_deliveries = real_queue
        deliveries = list(Delivery.objects.filter(endpoint=endpoint)
                          .select_related("notification__rack", "endpoint"))
        sender = StandardSender()
        bodies = [json.dumps(sender.body(d, delivery_item(d))).encode() for d in deliveries]

        bare_seconds = asyncio.run(bare_webhooks(url, bodies, args.concurrency))
        bare_rate = len(bodies) / bare_seconds

        with worker_process(args.pool, args.concurrency):
            started = time.perf_counter()
            for notification_id in held:
                real_queue(notification_id)
            done = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.DELIVERED)
            wait_until(lambda: done.count() == len(deliveries), timeout=600)
            console_seconds = time.perf_counter() - started
        console_rate = len(deliveries) / console_seconds

        email_rate, bare_email_rate = bench_email(args, user, rack)
    finally:
        receiver.terminate()
        teardown_databases(databases, verbosity=0)

    print(f"webhooks: {len(deliveries)} deliveries; a {args.pool} worker of concurrency "
          f"{args.concurrency}; {os.cpu_count()} CPUs")
    print(f"  bare async httpx sender : {bare_rate:8.1f} posts/s")
    print(f"  console (Celery worker) : {console_rate:8.1f} deliveries/s")
    print(f"  ratio console/bare      : {console_rate / bare_rate:8.2f}  (goal >= 0.5)")
    print(f"email: {args.emails} messages")
    print(f"  bare smtplib, one conn  : {bare_email_rate:8.1f} messages/s")
    print(f"  console (Celery worker) : {email_rate:8.1f} messages/s")
    print(f"  ratio console/bare      : {email_rate / bare_email_rate:8.2f}")


def bench_email(args, user, rack) -> tuple[float, float]:
    from aiosmtpd.controller import Controller
    from django.conf import settings

    from notifications.delivery import outbox
    from notifications.envelope import Envelope
    from notifications.models import Delivery, DeliveryStatus
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
        held: list[int] = []
        real_queue = outbox.queue_deliveries
        outbox.queue_deliveries = lambda notification_id: held.append(notification_id)
        for n in range(args.emails):
            record_event(rack, Envelope("build:create", "error",
                                        data={"id": "BAAAAAAAAAA", "app": f"app{n}"}))
        outbox.queue_deliveries = real_queue
        emails = Delivery.objects.filter(channel="email")

        message = (f"From: {settings.DEFAULT_FROM_EMAIL}\r\nTo: bench@example.com\r\n"
                   "Subject: [bench] Build BAAAAAAAAAA failed for app web\r\n\r\n"
                   + "An app build failed.\r\n" * 20)
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _ in range(args.emails):
                smtp.sendmail("console@localhost", ["bench@example.com"], message)
        bare_rate = args.emails / (time.perf_counter() - started)

        with worker_process(args.pool, args.concurrency,
                            EMAIL_URL=f"smtp://127.0.0.1:{port}"):
            started = time.perf_counter()
            for notification_id in held:
                real_queue(notification_id)
            done = emails.filter(status=DeliveryStatus.DELIVERED)
            wait_until(lambda: done.count() == args.emails, timeout=600)
            rate = args.emails / (time.perf_counter() - started)
    finally:
        controller.stop()
    return rate, bare_rate


if __name__ == "__main__":
    main()
