"""Soak: thousands of events through a cluster whose processes keep dying; nothing lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soak REDIS_URL=redis://127.0.0.1:6379/4 \
        .venv/bin/python bench/soak.py            # 10,000 events, 20 worker kills
    ... bench/soak.py --events 600 --worker-kills 4  # a quick look

Several racks send distinct events (each retried, byte for byte, on the next web process
until it gets a 202, as a rack does) to two web processes (console.server) and two Celery
workers, with beat, on their own Redis. Meanwhile workers are killed with SIGKILL and
restarted (20 times by default), the Redis is killed and restarted once (losing every
queued task and channel group), and a web process is killed once. A member's Standard
Webhooks endpoint (verified by a receiver) and programs on the live feed (reconnecting and
resuming) watch.

It prints events sent, stored, answered as duplicates, lost (sent and never stored), 5xx
answers, deliveries arrived and sent twice, live items missing or doubled, and where the
CPU went (the console's processes against this process: the senders, the receiver and
the live clients). The goal: 0 lost, 0 5xx, 0 missing. Not run in CI.
"""

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The console refuses to start with DEBUG off and no keys: the bench's own, never a real one.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-4e8d1c7b2a9f6e3d0c5b8a7f4e1d2c3b")
os.environ.setdefault("ENCRYPTION_KEYS", "Sgp5RX1T6YweHWMAYYCqM1MZo02YL75tm9pAylt9wKw=")

RACKS = 4
LIVE_CLIENTS = 3


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process (and its reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU each kind of process used; a process that is killed is read just before."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def read(self, kind: str, pid: int) -> None:
        self.spent[kind] = self.spent.get(kind, 0.0) + cpu_seconds(pid)


def inflict_faults(cluster, duration: float, worker_kills: int, cpu: CpuMeter,
                   log: list[str], stop: threading.Event) -> None:
    """Spread the kills over the run: workers in turn, Redis at a third, a web process at
    two thirds."""
    from tests.reliability.cluster import clock

    faults: list[tuple[float, str]] = [
        (duration * (n + 1) / (worker_kills + 1), f"worker{n % len(cluster.workers)}")
        for n in range(worker_kills)]
    faults += [(duration / 3, "redis"), (duration * 2 / 3, "web")]
    started = time.monotonic()
    for at, what in sorted(faults):
        if stop.wait(max(0.0, started + at - time.monotonic())):
            return
        if what == "redis":
            cluster.redis.kill(signal.SIGKILL)
            time.sleep(1.0)
            cluster.redis.start()
        else:
            process = (cluster.webs[0] if what == "web"
                       else cluster.workers[int(what.removeprefix("worker"))])
            cpu.read("web" if what == "web" else "worker", process.pid)
            process.kill(signal.SIGKILL)
            time.sleep(0.5)
            process.start()
        log.append(f"{clock()} {what} killed and back")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=60.0, help="events a second, all racks")
    parser.add_argument("--worker-kills", type=int, default=20)
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import setup_databases, teardown_databases

    from notifications.delivery.endpoints import create_endpoint
    from notifications.models import Delivery, DeliveryStatus, FeedEntry, Notification
    from racks.models import Membership, Organization, Rack, Role
    from tests.reliability.cluster import Cluster, LiveClient, WebhookReceiver, api_token
    from tests.reliability.test_faults import Sender, rack_event

    name = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"soak_{name}"
    databases = setup_databases(verbosity=0, interactive=False)
    receiver = WebhookReceiver()
    cpu = CpuMeter()
    log_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        org = Organization.objects.create(name="Soak", slug="soak")
        racks = [Rack.objects.create(organization=org, name=f"rack{n}") for n in range(RACKS)]
        users = []
        for role in (Role.OWNER, Role.MEMBER):
            user = get_user_model().objects.create_user(f"soak-{role}", f"{role}@example.com",
                                                        "soak-password")
            Membership.objects.create(organization=org, user=user, role=role)
            users.append(user)
        endpoint, secret = create_endpoint(users[1], url=receiver.url, events=["*"])
        receiver.secrets.append(secret)

        with Cluster(log_dir) as cluster:
            for _ in range(2):
                cluster.add_web()
                cluster.add_worker()
            cluster.add_beat()
            tokens = [api_token(cluster.urls[0], user.username, "soak-password")
                      for user in users]
            start = datetime.now(UTC).replace(microsecond=0)
            per_rack = args.events // RACKS
            senders = [Sender(cluster.urls, rack.ingest_path,
                              [rack_event(rack, seq, start) for seq in range(per_rack)])
                       for rack in racks]
            duration = per_rack * RACKS / args.rate
            faults: list[str] = []
            stop = threading.Event()
            cpu_before = cpu_seconds(os.getpid())
            began = time.monotonic()

            async def run() -> list[LiveClient]:
                clients = [LiveClient(cluster.urls, tokens[n % len(tokens)], first=n)
                           for n in range(LIVE_CLIENTS)]
                for client in clients:
                    client.start()
                await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)),
                                       30)
                fault_thread = asyncio.to_thread(inflict_faults, cluster, duration,
                                                 args.worker_kills, cpu, faults, stop)
                await asyncio.gather(*(s.run(args.rate / RACKS) for s in senders),
                                     fault_thread)
                answered = {n for s in senders for n in s.answers.values()}
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and not all(
                        set(c.items) >= answered for c in clients):
                    await asyncio.sleep(0.5)
                for client in clients:
                    await client.stop()
                return clients

            clients = asyncio.run(run())
            sending = time.monotonic() - began
            stop.set()
            deliveries = Delivery.objects.filter(endpoint=endpoint)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and deliveries.exclude(
                    status=DeliveryStatus.DELIVERED).exists():
                time.sleep(1)
            for process in [*cluster.webs, *cluster.workers, cluster.beat, cluster.redis]:
                kind = ("redis" if process is cluster.redis else
                        "web" if process in cluster.webs else "worker")
                cpu.read(kind, process.pid)
            cpu.spent["bench (senders, receiver, live clients)"] = (
                cpu_seconds(os.getpid()) - cpu_before)

        sent = sum(len(s.events) for s in senders)
        stored = Notification.objects.filter(rack__in=racks)
        seqs = {(n.rack_id, int(n.data["seq"])) for n in stored.only("rack", "data")}
        lost = sent - len(seqs)
        fives = sum(count for s in senders for what, count in s.failures.items()
                    if what.startswith("HTTP 5"))
        arrived = receiver.notification_ids()
        resent = len(receiver.received) - len(arrived)
        delivered = deliveries.filter(status=DeliveryStatus.DELIVERED).count()
        missing = doubled = 0
        for n, client in enumerate(clients):
            user = users[n % len(users)]
            feed = set(FeedEntry.objects.filter(user=user).values_list("notification_id",
                                                                       flat=True))
            gone = sorted(feed - set(client.items))
            missing += len(gone)
            doubled += len(set(client.items) - feed)  # held but not in the feed: wrong
            if gone:
                when = {pk: created.strftime("%H:%M:%S.%f")[:-3] for pk, created in
                        Notification.objects.filter(pk__in=gone).values_list("pk",
                                                                             "created_at")}
                print(f"client {n} misses {len(gone)}: "
                      + ", ".join(f"{pk}@{when[pk]}" for pk in gone[:12]),
                      "\n  " + "\n  ".join(client.timeline))
        print(f"\n{sent} events from {RACKS} racks at {args.rate:g}/s over "
              f"{sending:.0f} s; faults: {len(faults)} ({args.worker_kills} worker kills, "
              "1 Redis restart, 1 web process kill)")
        print(f"stored {len(seqs)}, lost {lost}, 5xx answers {fives}, "
              f"retries by reason {dict(sorted(f for s in senders for f in s.failures.items()))}")
        print(f"deliveries: {delivered} of {deliveries.count()} delivered, {len(arrived)} "
              f"arrived at the receiver, {resent} sent twice (same webhook-id), "
              f"{len(receiver.rejected)} rejected signatures")
        print(f"live clients: {[c.connects for c in clients]} connections each; "
              f"items missing {missing}, doubled {doubled}")
        total = sum(cpu.spent.values()) or 1.0
        print("CPU: " + ", ".join(f"{kind} {seconds:.0f} s ({seconds / total:.0%})"
                                  for kind, seconds in sorted(cpu.spent.items())))
        print("faults:", *faults, sep="\n  ")
        ok = lost == 0 and fives == 0 and missing == 0
        print("GOAL MET" if ok else "GOAL MISSED", f"(logs in {log_dir})")
    finally:
        receiver.close()
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    random.seed(7)
    main()
