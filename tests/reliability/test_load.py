"""Sustained mixed load on PostgreSQL and Redis: racks sending events, people reading their
feed, 1,000 open websockets; with 2 web processes, then with 1, on 2 Celery workers.

Prints events/s, p50/p99 latencies (ingest, feed read, ingest -> websocket) and errors,
and asserts only what must hold: no errors and nothing lost. Timings are never asserted:
every process, the database and this client share one machine.

    LOAD_SECONDS=180 scripts/test tests/reliability -m reliability -k mixed_load -s

LOAD_SECONDS (default 20), LOAD_RATE (ingest events offered a second, default 20) and
LOAD_SOCKETS (default 1000) change the run.
"""

import asyncio
import os
import random
import resource
import time
from collections import Counter
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from notifications.models import FeedEntry, Notification
from racks.models import Membership, Organization, Rack, Role
from tests.conftest import PASSWORD
from tests.reliability.cluster import LiveSwarm, api_token

pytestmark = pytest.mark.reliability

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
LOAD_RATE = float(os.environ.get("LOAD_RATE", "20"))
SOCKETS = int(os.environ.get("LOAD_SOCKETS", "1000"))
FEED_READS_PER_SECOND = 10
ORGANIZATIONS = 10
USERS_PER_ORGANIZATION = 2
IN_FLIGHT = 64  # requests of each kind outstanding at most (a rack fleet, many browsers)
CATCH_UP_SECONDS = 120  # only waited while sockets are behind
OPEN_BATCH = 25

# What each run measured, by label, so the last run can compare itself with the first.
RESULTS: dict[str, "Figures"] = {}


@dataclass
class Person:
    user: object
    rack: Rack
    token: str = ""


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


@dataclass
class Figures:
    label: str
    seconds: float = 0.0
    events: int = 0
    feed_reads: int = 0
    ingest_ms: list[float] = field(default_factory=list)
    feed_ms: list[float] = field(default_factory=list)
    live_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    sockets: int = 0
    open_seconds: float = 0.0
    lost: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def table(self) -> str:
        def line(name: str, samples: list[float]) -> str:
            return (f"  {name:<22} p50 {percentile(samples, 50):8.1f} ms   "
                    f"p99 {percentile(samples, 99):8.1f} ms   ({len(samples)} samples)")
        return "\n".join([
            f"{self.label}: {self.seconds:.0f} s, {self.sockets} websockets open "
            f"(opened in {self.open_seconds:.1f} s)",
            f"  ingest                 {self.events_per_second:8.1f} events/s "
            f"({self.events} events)",
            f"  feed reads             {self.feed_reads / self.seconds:8.1f} reads/s",
            line("ingest", self.ingest_ms),
            line("feed read", self.feed_ms),
            line("ingest -> websocket", self.live_ms),
            f"  errors                 {sum(self.errors.values())} {dict(self.errors)}",
            f"  lost                   {self.lost} (socket, notification) pairs",
        ])


def make_people() -> list[Person]:
    """ORGANIZATIONS organizations, each with a rack and USERS_PER_ORGANIZATION members."""
    User = get_user_model()
    hashed = make_password(PASSWORD)  # hashed once: it is slow on purpose
    people = []
    for o in range(ORGANIZATIONS):
        org = Organization.objects.create(name=f"Load {o}", slug=f"load-{o}")
        rack = Rack.objects.create(organization=org, name=f"rack{o}")
        for u in range(USERS_PER_ORGANIZATION):
            user = User.objects.create(username=f"load{o}-{u}", password=hashed,
                                       email=f"load{o}-{u}@example.com")
            Membership.objects.create(organization=org, user=user, role=Role.MEMBER)
            people.append(Person(user, rack))
    return people


def rack_event(rack: Rack, seq: int, when: datetime) -> dict:
    kinds = [("app:create", "success", {"name": f"app{seq}"}),
             ("release:promote", "start", {"app": "web", "id": "RABCDEFGHIJ"}),
             ("release:scale", "success", {"app": "web", "id": "RABCDEFGHIJ"}),
             ("resource:create", "success", {"name": f"db{seq}", "type": "postgres"})]
    action, status, data = kinds[seq % len(kinds)]
    return {"action": action, "status": status,
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "data": {"rack": rack.name, "seq": str(seq), **data}}


def raise_open_files_limit(needed: int) -> None:
    """Each socket is a file on both ends; raise this process' soft limit (children
    inherit it) up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def drive(urls: list[str], people: list[Person], figures: Figures) -> list[
        tuple[Person, dict]]:
    """Open the sockets, then ingest and read feeds for LOAD_SECONDS; wait for catch-up.

    Answers each socket's person and what it held: {"items", "connects", "arrivals"}.
    """
    sent_at: dict[str, float] = {}
    accepted: dict[int, set[int]] = {p.rack.pk: set() for p in people}  # rack -> ids
    owners = [people[i % len(people)] for i in range(SOCKETS)]
    swarm = LiveSwarm(urls, [person.token for person in owners], batch=OPEN_BATCH)
    try:
        figures.open_seconds = await asyncio.to_thread(swarm.opened)
        figures.sockets = SOCKETS
        await offer_load(urls, people, figures, sent_at, accepted)
        held = await asyncio.to_thread(
            swarm.finish, [sorted(accepted[p.rack.pk]) for p in owners], CATCH_UP_SECONDS)
    finally:
        swarm.kill()
    for socket_ in held:
        for seq, at in socket_["arrivals"]:
            if seq in sent_at:
                figures.live_ms.append((at - sent_at[seq]) * 1000)
    drops = sum(socket_["connects"] for socket_ in held) - SOCKETS
    if drops:
        figures.errors["websocket reconnects"] += drops
    return list(zip(owners, held, strict=True))


async def offer_load(urls: list[str], people: list[Person], figures: Figures,
                     sent_at: dict[str, float], accepted: dict[int, set[int]]) -> None:
    """Ingest at LOAD_RATE and read feeds at FEED_READS_PER_SECOND, for LOAD_SECONDS."""
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        tasks: set[asyncio.Task] = set()

        async def timed(what: str, request: Awaitable[httpx.Response], expected: int,
                        samples: list[float]) -> httpx.Response | None:
            """The answer when it is the expected one (its latency kept), else None (the
            failure counted); either way the request's place in flight is freed."""
            started = time.monotonic()
            try:
                answer = await request
            except httpx.HTTPError as error:
                figures.errors[f"{what} {type(error).__name__}"] += 1
                return None
            finally:
                in_flight.release()
            if answer.status_code != expected:
                figures.errors[f"{what} HTTP {answer.status_code}"] += 1
                return None
            samples.append((time.monotonic() - started) * 1000)
            return answer

        async def ingest(seq: int) -> None:
            person = people[seq % len(people)]
            body = rack_event(person.rack, seq, start_time + timedelta(microseconds=seq))
            url = urls[seq % len(urls)] + person.rack.ingest_path
            sent_at[str(seq)] = time.monotonic()
            answer = await timed("ingest", http.post(url, json=body), 202, figures.ingest_ms)
            if answer is not None:
                figures.events += 1
                accepted[person.rack.pk].add(answer.json()["notification"])

        async def read_feed(n: int) -> None:
            person = random.choice(people)
            request = http.get(f"{urls[n % len(urls)]}/api/v1/notifications/",
                               headers={"Authorization": f"Token {person.token}"})
            if await timed("feed", request, 200, figures.feed_ms) is not None:
                figures.feed_reads += 1

        async def offer(rate: float, job: object) -> None:
            """Start `job` `rate` times a second, on schedule however slow the answers
            (so a slow server shows as latency, not as fewer requests)."""
            total = int(rate * LOAD_SECONDS)
            for n in range(total):
                await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
                await in_flight.acquire()
                task = asyncio.create_task(job(n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        start_time = datetime.now(UTC)
        began = time.monotonic()
        await asyncio.gather(offer(LOAD_RATE, ingest), offer(FEED_READS_PER_SECOND, read_feed))
        while tasks:
            await asyncio.gather(*tasks)
        figures.seconds = time.monotonic() - began


def run_load(cluster, webs: int, label: str) -> Figures:
    raise_open_files_limit(4 * SOCKETS + 1024)
    people = make_people()
    for _ in range(webs):
        cluster.add_web()
    for _ in range(2):
        cluster.add_worker()
    with ThreadPoolExecutor(4) as pool:  # each login hashes the password: slow on purpose
        tokens = pool.map(lambda i: api_token(cluster.urls[i % webs], people[i].user.username,
                                              PASSWORD), range(len(people)))
        for person, token in zip(people, tokens, strict=True):
            person.token = token
    figures = Figures(label)
    clients = asyncio.run(drive(cluster.urls, people, figures))

    feeds: dict[int, set[int]] = {}
    for user_id, notification_id in FeedEntry.objects.filter(
            user__in=[p.user for p in people]).values_list("user_id", "notification_id"):
        feeds.setdefault(user_id, set()).add(notification_id)
    # Lost: in the user's feed but not on their socket; a socket holding anything else is
    # as wrong (another user's notification, or one the database does not have).
    figures.lost = sum(len(feeds.get(p.user.pk, set()) ^ set(held["items"]))
                       for p, held in clients)
    stored = Notification.objects.filter(rack__in=[p.rack for p in people]).count()
    if stored != figures.events:
        figures.errors["notifications stored != events accepted"] += 1
    print("\n" + figures.table())
    RESULTS[label] = figures
    return figures


@pytest.mark.parametrize("webs", [2, 1], ids=["2-web", "1-web"])
def test_mixed_load_loses_nothing(cluster, webs):
    label = f"{webs} web + 2 workers"
    figures = run_load(cluster, webs, label)
    baseline = RESULTS.get("2 web + 2 workers")
    if baseline is not None and baseline is not figures:
        ratios = [f"events/s x{figures.events_per_second / baseline.events_per_second:.2f}"]
        for name, attr in (("ingest p99", "ingest_ms"), ("feed p99", "feed_ms"),
                           ("websocket p99", "live_ms")):
            ratio = percentile(getattr(figures, attr), 99) / percentile(getattr(baseline, attr), 99)
            ratios.append(f"{name} x{ratio:.2f}")
        print("  against 2 web processes, same run: " + ", ".join(ratios))
    assert not figures.errors, figures.table()
    assert figures.lost == 0, figures.table()
    assert figures.events == int(LOAD_RATE * LOAD_SECONDS)
