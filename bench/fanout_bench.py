"""Fan-out: how many feed rows a second the pipeline writes for a big organization.

    .venv/bin/python bench/fanout_bench.py [--members 1000] [--events 200] [--rounds 3]

Needs PostgreSQL on 127.0.0.1. It creates and migrates a database of its own
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/rack_console_fanout_bench)
and makes one organization of `--members` members (in-app only, the default preferences)
with one rack. Each round it records `--events` distinct events through the pipeline
(`record_event`, one transaction each, as the ingest URL does: the notification, one feed
row per member, the deliveries the preferences ask for) and, as the baseline, inserts the
same number of feed rows per event with `bulk_create` alone (one transaction each, on
notifications of an organization with no members, stored beforehand). It prints events/s
and feed rows/s for both, and the ratio pipeline/baseline per round; the live push and
deliveries after the commit are not part of it (the live and delivery benches measure
those).

BENCH_CHECKOUT names the checkout whose console code is measured (bench/ab.py sets it).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

BASE = (os.environ.get("BENCH_CHECKOUT")
        or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rack_console_fanout_bench")


def setup() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    os.environ.update({
        "DATABASE_URL": DATABASE_URL, "DEBUG": "false", "DJANGO_SETTINGS_MODULE":
        "console.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS",
                                          "ctZgGirLojbVG21297l1ThY0WVwGWwPYr3dyTcX7uY4="),
        # The post-commit hand-off (live push, deliveries) is not measured here: an
        # in-memory channel layer and broker keep it out of Redis.
        "REDIS_URL": "",
    })
    sys.path.insert(0, BASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def people(members: int) -> tuple[object, list[int]]:
    from django.contrib.auth import get_user_model

    from racks.models import Membership, Organization, Rack, Role

    User = get_user_model()
    org, _ = Organization.objects.get_or_create(slug="fanout", defaults={"name": "fanout"})
    have = set(Membership.objects.filter(organization=org).values_list("user_id", flat=True))
    if len(have) < members:
        made = User.objects.bulk_create(
            [User(username=f"fan{n}", email=f"fan{n}@x.test")
             for n in range(len(have), members)], ignore_conflicts=True)
        users = User.objects.filter(username__in=[u.username for u in made])
        Membership.objects.bulk_create(
            [Membership(organization=org, user=user, role=Role.MEMBER) for user in users],
            ignore_conflicts=True)
    rack, _ = Rack.objects.get_or_create(organization=org, name="fanout")
    readers = list(Membership.objects.filter(organization=org)
                   .values_list("user_id", flat=True)[:members])
    return rack, readers


def pipeline_round(rack: object, events: int, tag: str) -> float:
    from django.db import transaction

    from notifications.envelope import Envelope
    from notifications.pipeline import record_event

    started = time.perf_counter()
    for n in range(events):
        with transaction.atomic():
            record_event(rack, Envelope(action="release:scale", data={
                "app": "web", "id": f"R{tag}{n}"}, timestamp=datetime.now(UTC)))
    return time.perf_counter() - started


def baseline_round(readers: list[int], events: int, tag: str) -> float:
    """The same rows for as many notifications of a rack nobody is a member of (so the
    pipeline wrote no rows for them), one transaction each."""
    from django.db import transaction

    from notifications.models import FeedEntry, Notification
    from racks.models import Organization, Rack

    org, _ = Organization.objects.get_or_create(slug="fanout-empty",
                                                defaults={"name": "fanout-empty"})
    empty, _ = Rack.objects.get_or_create(organization=org, name="fanout-empty")
    pipeline_round(empty, events, tag)
    notifications = list(Notification.objects.filter(rack=empty).order_by("-id")[:events])
    started = time.perf_counter()
    for notification in notifications:
        with transaction.atomic():
            FeedEntry.objects.bulk_create(
                [FeedEntry(user_id=reader, notification=notification) for reader in readers])
    taken = time.perf_counter() - started
    Notification.objects.filter(rack=empty).delete()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    setup()
    rack, readers = people(args.members)
    from notifications.models import Notification

    Notification.objects.filter(rack=rack).delete()
    pipeline_round(rack, 5, "warm")
    ratios = []
    stamp = int(time.time())
    print(f"fan-out: {len(readers)} members, {args.events} events a round")
    for round_no in range(args.rounds):
        taken = pipeline_round(rack, args.events, f"{stamp}r{round_no}")
        base = baseline_round(readers, args.events, f"{stamp}b{round_no}")
        events_s, base_s = args.events / taken, args.events / base
        ratios.append(events_s / base_s)
        print(f"  round {round_no + 1}: pipeline {events_s:7.1f} events/s "
              f"({events_s * len(readers):9.0f} feed rows/s); rows alone {base_s:7.1f}/s "
              f"({base_s * len(readers):9.0f} rows/s); ratio {events_s / base_s:.2f}x")
        Notification.objects.filter(rack=rack).exclude(data__id__startswith="Rwarm").delete()
    print(f"median ratio pipeline/rows alone: {statistics.median(ratios):.2f}x")
    print("load average at end:   {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
