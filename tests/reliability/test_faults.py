"""Nothing is lost when processes die: workers, Redis and web processes killed mid-stream.

A rack sends a stream of events across two web processes while Celery workers are
killed with SIGKILL (and restarted), the console's Redis is restarted (losing everything
it held: queued tasks, channel groups) and a web process is killed. The rack retries
what failed, as a real one would. Afterwards every event is one notification, every
webhook delivery arrived (a resend keeps its webhook-id), and each program on the live
feed, having reconnected and resumed, holds exactly its user's feed.
"""

import asyncio
import contextlib
import json
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from notifications.delivery.endpoints import create_endpoint
from notifications.models import Delivery, DeliveryStatus, FeedEntry, Notification
from racks.models import Rack
from tests.conftest import PASSWORD
from tests.helpers import wait_for, wait_for_async
from tests.reliability.cluster import Cluster, LiveClient, WebhookReceiver, api_token, clock

pytestmark = pytest.mark.reliability

EVENTS_PER_SECOND = 25
SENDERS = 4


def rack_id(prefix: str, seq: int) -> str:
    """A build or release id of the rack's shape: a letter and ten upper-case letters."""
    letters = ""
    for _ in range(10):
        seq, digit = divmod(seq, 26)
        letters += chr(ord("A") + digit)
    return prefix + letters


def rack_event(rack: Rack, seq: int, start: datetime) -> bytes:
    """The seq-th event of the stream, byte for byte the same each time it is retried."""
    when = (start + timedelta(milliseconds=seq)).isoformat().replace("+00:00", "Z")
    kinds = [
        ("app:create", "success", {"name": f"app{seq}"}),
        ("build:create", "error", {"app": "web", "id": rack_id("B", seq),
                                   "message": "exit status 1"}),
        ("release:promote", "start", {"app": "web", "id": rack_id("R", seq)}),
    ]
    action, status, data = kinds[seq % len(kinds)]
    return json.dumps({"action": action, "status": status, "timestamp": when,
                       "data": {"rack": rack.name, "seq": str(seq), **data}}).encode()


@dataclass
class Sender:
    """A rack sending events: each is retried, on the next web process, until a 202."""

    urls: list[str]
    ingest_path: str
    events: list[bytes]
    answers: dict[int, int] = field(default_factory=dict)  # seq -> notification id
    failures: dict[str, int] = field(default_factory=dict)  # what went wrong, how often

    def _failed(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1

    async def send(self, client: httpx.AsyncClient, seq: int) -> None:
        attempt = seq
        while True:
            url = self.urls[attempt % len(self.urls)] + self.ingest_path
            attempt += 1
            try:
                answer = await client.post(url, content=self.events[seq],
                                           headers={"Content-Type": "application/json"})
            except httpx.HTTPError as error:
                self._failed(type(error).__name__)
            else:
                if answer.status_code == 202:
                    self.answers[seq] = answer.json()["notification"]
                    return
                self._failed(f"HTTP {answer.status_code}")
            await asyncio.sleep(0.2)

    async def run(self, rate: float) -> None:
        """Send every event, `rate` a second, a few at a time."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        started = time.monotonic()

        async def pace() -> None:
            for seq in range(len(self.events)):
                await asyncio.sleep(max(0.0, started + seq / rate - time.monotonic()))
                await queue.put(seq)

        async def work(client: httpx.AsyncClient) -> None:
            while True:
                seq = await queue.get()
                try:
                    await self.send(client, seq)
                finally:
                    queue.task_done()

        async with httpx.AsyncClient(timeout=10) as client:
            workers = [asyncio.create_task(work(client)) for _ in range(SENDERS)]
            await pace()
            await queue.join()
            for worker in workers:
                worker.cancel()


def inflict_faults(cluster: Cluster, log: list[str]) -> None:
    """Kill and restart processes, one fault at a time, while the events flow.

    The pauses are the faults' schedule, not waits: events keep coming while a process is
    down, and between two faults the cluster runs whole for a moment."""
    def note(what: str) -> None:
        log.append(f"{clock()} {what}")

    time.sleep(2)
    for worker in cluster.workers:
        note(f"SIGKILL {worker.name}")
        worker.kill(signal.SIGKILL)
        time.sleep(1)
        worker.start()
        note(f"{worker.name} back")
    note("Redis restarted (everything it held is gone)")
    cluster.redis.kill(signal.SIGKILL)
    time.sleep(1.5)
    cluster.redis.start()
    time.sleep(2)
    web = cluster.webs[0]
    note(f"SIGKILL {web.name}")
    web.kill(signal.SIGKILL)
    time.sleep(1.5)
    web.start()
    note(f"{web.name} back")
    worker = cluster.workers[0]
    note(f"SIGKILL {worker.name} again")
    worker.kill(signal.SIGKILL)
    worker.start()
    time.sleep(2)


def every_delivery_arrived(endpoint, stored, receiver: WebhookReceiver,
                           timeout: float) -> dict[int, set[str]]:
    """Wait until the endpoint's delivery of each stored notification is delivered; check
    each arrived, signed, under its delivery's one webhook-id however often it was sent.
    Answers the webhook-ids that arrived, by notification."""
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    assert deliveries.count() == stored.count()
    wait_for(lambda: not deliveries.exclude(status=DeliveryStatus.DELIVERED).exists(),
             timeout=timeout, what="some deliveries were not delivered")
    arrived = receiver.notification_ids()
    assert set(arrived) == set(stored.values_list("pk", flat=True))
    webhook_ids = dict(deliveries.values_list("notification_id", "webhook_id"))
    assert all(ids == {webhook_ids[pk]} for pk, ids in arrived.items())
    assert receiver.rejected == []
    return arrived


def feed_ids(user) -> set[int]:
    return set(FeedEntry.objects.filter(user=user).values_list("notification_id", flat=True))


def test_processes_killed_mid_stream_lose_nothing(cluster, webhook_receiver, org, rack,
                                                  owner, member):
    endpoint, secret = create_endpoint(member, url=webhook_receiver.url, events=["*"])
    webhook_receiver.secrets.append(secret)
    for _ in range(2):
        cluster.add_web()
        cluster.add_worker()
    cluster.add_beat()
    tokens = {user.pk: api_token(cluster.urls[0], user.username, PASSWORD)
              for user in (owner, member)}
    start = datetime.now(UTC).replace(microsecond=0)
    events = [rack_event(rack, seq, start) for seq in range(int(EVENTS_PER_SECOND * 24))]
    sender = Sender(cluster.urls, rack.ingest_path, events)
    fault_log: list[str] = []

    async def stream() -> list[tuple[object, LiveClient]]:
        clients = [(user, LiveClient(cluster.urls, tokens[user.pk], first=i))
                   for i, user in enumerate((owner, member, member))]
        for _, client in clients:
            client.start()
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for _, c in clients)), 20)
        await asyncio.gather(sender.run(EVENTS_PER_SECOND),
                             asyncio.to_thread(inflict_faults, cluster, fault_log))

        def caught_up() -> bool:
            return all(set(c.items) >= set(sender.answers.values()) for _, c in clients)
        # Not caught up in time: the checks below say what each client missed.
        with contextlib.suppress(AssertionError):
            await wait_for_async(caught_up, timeout=30, interval=0.2)
        for _, client in clients:
            await client.stop()
        return clients

    clients = asyncio.run(stream())
    print("\nfaults:", *fault_log, sep="\n  ")
    print("the rack's failed POSTs, retried:", sender.failures)

    # Every event is one notification, whatever was retried where.
    stored = Notification.objects.filter(rack=rack)
    assert stored.count() == len(events)
    assert sorted(int(seq) for seq in stored.values_list("data__seq", flat=True)) == \
        list(range(len(events)))
    assert set(sender.answers.values()) == set(stored.values_list("pk", flat=True))

    # Every delivery arrived; one that was sent twice kept its webhook-id.
    arrived = every_delivery_arrived(endpoint, stored, webhook_receiver, timeout=60)
    resent = len(webhook_receiver.received) - len(arrived)
    print(f"deliveries: {len(arrived)} arrived, {resent} resent after a fault")

    # Each program on the live feed holds exactly its user's feed.
    assert any(client.connects > 1 for _, client in clients), "no socket was dropped"
    for user, client in clients:
        missing = sorted(feed_ids(user) - set(client.items))
        when = [(n.pk, n.created_at.strftime("%H:%M:%S.%f")[:-3])
                for n in Notification.objects.filter(pk__in=missing[:10])]
        assert not missing and set(client.items) == feed_ids(user), (
            f"{user.username}'s socket ({client.connects} connections) differs from the "
            f"feed: missing {when}\n"
            + "\n".join(client.timeline) + "\nfaults:\n" + "\n".join(fault_log))
    print("live clients (connections each):", [c.connects for _, c in clients])

    # A rack is told to retry, never given a server error (a dead process just drops).
    assert not [what for what in sender.failures if what.startswith("HTTP 5")], (
        f"the console answered 5xx during the faults: {sender.failures}\n"
        + cluster.errors_logged())


def test_a_web_process_dying_after_commit_leaves_deliveries_to_the_sweeper(
        cluster, webhook_receiver, org, rack, member):
    """The process dies after the notification commits and before its deliveries are
    queued (and before the rack gets an answer): the rack retries on another web process
    (a duplicate), and the sweeper finds the deliveries nobody queued."""
    endpoint, secret = create_endpoint(member, url=webhook_receiver.url, events=["*"])
    webhook_receiver.secrets.append(secret)
    crashing = cluster.add_web(crash_after_commit=True)
    healthy = cluster.add_web()
    cluster.add_worker()
    cluster.add_beat()
    start = datetime.now(UTC).replace(microsecond=0)
    events = [rack_event(rack, seq, start) for seq in range(3)]

    for body in events:
        if not crashing.alive:
            crashing.start()
        with pytest.raises(httpx.TransportError):
            httpx.post(crashing.url + rack.ingest_path, content=body, timeout=10,
                       headers={"Content-Type": "application/json"})
        wait_for(lambda: not crashing.alive, timeout=10)
        retried = httpx.post(healthy.url + rack.ingest_path, content=body, timeout=10,
                             headers={"Content-Type": "application/json"})
        assert retried.status_code == 202
        assert retried.json()["duplicate"] is True, "the crashed process had stored it"

    stored = Notification.objects.filter(rack=rack)
    assert stored.count() == len(events)
    every_delivery_arrived(endpoint, stored, webhook_receiver, timeout=30)
    assert "deliveries whose task was lost" in "".join(w.log_text() for w in cluster.workers)
