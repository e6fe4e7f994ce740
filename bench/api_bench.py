"""Benchmarks of the ingest URL and the feed API against PostgreSQL.

    .venv/bin/python bench/api_bench.py            # the full run (about 3 minutes)
    .venv/bin/python bench/api_bench.py --quick    # fewer requests, for a smoke check

Needs PostgreSQL and Redis on 127.0.0.1. It creates and migrates a database of its own
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/rack_console_api_bench)
and uses BENCH_REDIS_URL (default redis://127.0.0.1:6379/1), which it flushes. It prints:

(a) ingest throughput: events/s through the real ingest URL, 4 concurrent HTTP clients,
    beside a minimal Django view on the same servers that does one raw INSERT of the
    same notification row; the ratio. Servers: two daphne processes (console.asgi)
    accepting on one shared listening socket; run once with a database connection per
    request and once with a psycopg connection pool (see the settings part below).
(b) feed latency, p50/p99: GET /api/v1/notifications/ (token auth, in-process Django
    test client) for the first page and for a page 10,000 items deep, with 1,000,000
    notifications in the user's feed, beside the same SQL run directly and beside a
    minimal Django view (same test client and middleware, no DRF, no authentication)
    running that SQL; both ratios. A test-client round trip alone costs more than half
    the SQL, so the ratio against bare SQL cannot reach 1.5x; the one against the minimal
    view says what the endpoint itself adds.
(c) unread count latency: unread_count() and GET .../unread-count/, beside the SQL.

Every ratio compares figures measured in the same run, on the same machine; the feed
and unread-count figures take turns request by request, so load lands on all alike.

This file is also the servers' settings module and URLconf (DJANGO_SETTINGS_MODULE=
api_bench, and the feed part's URLconf): the console's settings and URLs plus the
raw-INSERT and raw-SQL baseline views.
"""

import os
import sys

if __name__ != "__main__":  # imported by the benchmark's servers as their settings
    from console.settings import *  # noqa: F403

    ROOT_URLCONF = "api_bench"
    # Django's ASGI handler runs each request in a thread of its own, so a persistent
    # connection (CONN_MAX_AGE > 0) is never reused there, and idle ones pile up until
    # PostgreSQL refuses clients. The servers run either with a connection per request
    # or with a psycopg pool, which hands connections across threads.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    if os.environ.get("BENCH_DB_POOL") == "1":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
            "min_size": 4, "max_size": 16}
    else:
        DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405

    # The queries the bench's in-process minimal view runs, by name (see bench_feed).
    CAPTURED: dict[str, list[tuple[str, tuple]]] = {}

    def __getattr__(name: str) -> object:
        """The URLconf's urlpatterns, built when Django first resolves a URL (apps ready)."""
        if name != "urlpatterns":
            raise AttributeError(name)
        import json
        import uuid

        from django.db import connection
        from django.http import HttpRequest, JsonResponse
        from django.urls import path
        from django.utils import timezone
        from django.views.decorators.csrf import csrf_exempt
        from rest_framework.request import Request
        from rest_framework.response import Response
        from rest_framework.views import APIView

        from console.urls import urlpatterns as console_urls

        @csrf_exempt
        def raw_insert(request: HttpRequest, rack_id: int) -> JsonResponse:
            event = json.loads(request.body)
            now = timezone.now()
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO notifications_notification (rack_id, app, action, status, "
                    "event_type, severity, data, message, source, dedupe_key, "
                    "signature_key, occurred_at, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', %s, %s) RETURNING id",
                    [rack_id, event["data"]["app"], event["action"], "success",
                     "release:scale", "info", json.dumps(event["data"]),
                     "[bench] Scaled release", "rack", "raw:" + uuid.uuid4().hex, now, now])
                new_id = cursor.fetchone()[0]
            return JsonResponse({"notification": new_id, "duplicate": False}, status=202)

        def raw_sql(request: HttpRequest, name: str) -> JsonResponse:
            """The feed endpoint's own queries (CAPTURED by bench_feed), run by a plain
            Django view: no DRF, no authentication, the last query's rows as JSON."""
            rows: list = []
            with connection.cursor() as cursor:
                for sql, params in CAPTURED[name]:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall()
            return JsonResponse({"results": rows})

        class EmptyAPIView(APIView):
            """DRF's fixed price: token authentication and an empty JSON answer."""

            def get(self, request: Request) -> Response:
                return Response({"results": []})

        patterns = [path("bench/raw/<int:rack_id>/", raw_insert),
                    path("bench/sql/<str:name>/", raw_sql),
                    path("bench/drf-empty/", EmptyAPIView.as_view()), *console_urls]
        globals()["urlpatterns"] = patterns
        return patterns


# The console under test: this checkout, or the one bench/ab.py names, so that one
# copy of the bench can measure two checkouts.
BASE = (os.environ.get("BENCH_CHECKOUT")
        or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DB = os.environ.get("BENCH_DATABASE_URL",
                          "postgres://postgres@127.0.0.1:5432/rack_console_api_bench")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
FEED_SIZE = 1_000_000
DEEP = 10_000
UNREAD = 1_000
SERVER_ENV = {"DATABASE_URL": BENCH_DB, "REDIS_URL": BENCH_REDIS,
              # The benchmark measures the endpoint, not the rate limit.
              "INGEST_RATE": "100000000/min", "LOG_LEVEL": "ERROR",
              "PYTHONWARNINGS": "ignore::UserWarning",
              # The console refuses to start without these when DEBUG is off.
              "SECRET_KEY": os.environ.get(
                  "SECRET_KEY", "bench-only-secret-key-4e8d1c7b2a9f6e3d0c5b8a7f4e1d2c3b"),
              "ENCRYPTION_KEYS": os.environ.get(
                  "ENCRYPTION_KEYS", "Sgp5RX1T6YweHWMAYYCqM1MZo02YL75tm9pAylt9wKw=")}


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def prepare_database() -> None:
    """Create the bench database if needed and bring its schema up to date."""
    import subprocess

    import psycopg

    name = BENCH_DB.rsplit("/", 1)[1]
    admin = BENCH_DB.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE, check=True,
                   env={**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": "console.settings"})


def setup_django() -> None:
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # whitenoise: no collected static dir
    os.environ.update(SERVER_ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    sys.path.insert(0, BASE)
    import django

    django.setup()


def _people(org_name: str, usernames: list[str]) -> tuple[object, list[object]]:
    from django.contrib.auth import get_user_model

    from racks.models import Membership, Organization, Rack, Role

    User = get_user_model()
    org, _ = Organization.objects.get_or_create(slug=org_name, defaults={"name": org_name})
    users = []
    for n, username in enumerate(usernames):
        user, _ = User.objects.get_or_create(username=username,
                                                   defaults={"email": f"{username}@x.test"})
        Membership.objects.get_or_create(organization=org, user=user,
                                         defaults={"role": Role.OWNER if n == 0 else
                                                   Role.MEMBER})
        users.append(user)
    rack, _ = Rack.objects.get_or_create(organization=org, name=org_name)
    return rack, users


# (a) ingest throughput


def start_servers(processes: int = 2, pool: bool = False) -> tuple[list, str]:
    import socket
    import subprocess

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    port = listener.getsockname()[1]
    env = {**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": "api_bench",
           "BENCH_DB_POOL": "1" if pool else "0",
           # This file, as the servers' settings and URLconf, then the console.
           "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.abspath(__file__)),
                                          BASE])}
    servers = [subprocess.Popen(
        [sys.executable, "-m", "console.server", "--fd", str(listener.fileno()), "-v", "0"],
        cwd=BASE, env=env, pass_fds=[listener.fileno()]) for _ in range(processes)]
    listener.close()
    return servers, f"http://127.0.0.1:{port}"


def stop_servers(servers: list) -> None:
    import subprocess

    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_up(base_url: str) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base_url + "/api/v1/no-such-page/", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("The bench servers did not start within 60 s.")


def _drive(url_for_event: object, count: int, clients: int = 4) -> float:
    """Post `count` distinct events from `clients` concurrent clients; events per second."""
    import asyncio
    import itertools
    import json
    import time

    import httpx

    numbers = itertools.count()

    def body(n: int) -> bytes:
        return json.dumps({"action": "release:scale", "status": "success",
                           "timestamp": f"2026-01-01T00:00:00.{n:09d}Z",
                           "data": {"rack": "bench", "app": f"app{n % 50}",
                                    "id": "RAAAAAAAAAA"}}).encode()

    async def client(http: httpx.AsyncClient, share: int) -> None:
        for _ in range(share):
            n = next(numbers)
            response = await http.post(url_for_event, content=body(n),
                                       headers={"Content-Type": "application/json"})
            if response.status_code != 202:
                raise SystemExit(f"{url_for_event} answered {response.status_code}: "
                                 f"{response.text[:200]}")

    async def run(total: int) -> float:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            started = time.perf_counter()
            await asyncio.gather(*(client(http, total // clients) for _ in range(clients)))
            return (total // clients * clients) / (time.perf_counter() - started)

    asyncio.run(run(max(clients, count // 10)))  # warm up connections and caches
    return asyncio.run(run(count))


def bench_ingest(count: int) -> None:
    from django.core.cache import cache

    rack, _ = _people("bench", ["bench-owner", "bench-member", "bench-viewer"])
    print("(a) ingest throughput, 4 concurrent clients, 2 daphne processes, "
          f"{count} events a run; the rack's organization has 3 members")
    for pool, setting in ((False, "a new connection per request (CONN_MAX_AGE=0)"),
                          (True, "a psycopg connection pool")):
        cache.clear()
        servers, base_url = start_servers(pool=pool)
        try:
            _wait_until_up(base_url)
            raw = _drive(f"{base_url}/bench/raw/{rack.pk}/", count)
            ingest = _drive(f"{base_url}{rack.ingest_path}", count)
            raw_again = _drive(f"{base_url}/bench/raw/{rack.pk}/", count)
        finally:
            stop_servers(servers)
        baseline = (raw + raw_again) / 2
        print(f"    database connections {setting}")
        print(f"      raw INSERT view    {baseline:8.0f} events/s  (runs: {raw:.0f}, "
              f"{raw_again:.0f})")
        print(f"      POST <ingest_url>  {ingest:8.0f} events/s")
        print(f"      ratio ingest/raw   {ingest / baseline:8.2f}x   (goal >= 0.5x)")


# (b) feed latency and (c) unread count


def load_feed() -> tuple[object, object]:
    """A user with FEED_SIZE notifications in their feed, the newest UNREAD unread."""
    from django.db import connection

    from notifications.models import FeedEntry

    rack, (reader,) = _people("feedbench", ["feed-reader"])
    if FeedEntry.objects.filter(user=reader).count() != FEED_SIZE:
        print(f"    loading {FEED_SIZE:,} notifications (once per bench database) ...",
              flush=True)
        with connection.cursor() as cursor:
            # The feed's keys are not checked by the database: its entries go first.
            cursor.execute("DELETE FROM notifications_feedentry WHERE notification_id IN "
                           "(SELECT id FROM notifications_notification WHERE rack_id = %s)",
                           [rack.pk])
            cursor.execute("DELETE FROM notifications_notification WHERE rack_id = %s",
                           [rack.pk])
            cursor.execute(
                "INSERT INTO notifications_notification (rack_id, app, action, status, "
                "event_type, severity, data, message, source, dedupe_key, signature_key, "
                "occurred_at, created_at) "
                "SELECT %s, 'app' || (g %% 50), 'release:scale', 'success', 'release:scale', "
                "'info', jsonb_build_object('rack', 'feedbench', 'app', 'app' || (g %% 50), "
                "'id', 'RAAAAAAAAAA'), '[feedbench] Scaled release RAAAAAAAAAA for app app' "
                "|| (g %% 50), 'rack', 'bench:' || g, '', "
                "now() - (%s - g) * interval '1 second', now() - (%s - g) * interval "
                "'1 second' FROM generate_series(1, %s) AS g",
                [rack.pk, FEED_SIZE, FEED_SIZE, FEED_SIZE])
            cursor.execute(
                "INSERT INTO notifications_feedentry (user_id, notification_id, read, "
                "created_at) SELECT %s, id, true, created_at "
                "FROM notifications_notification WHERE rack_id = %s", [reader.pk, rack.pk])
        connection.cursor().execute("VACUUM ANALYZE notifications_notification")
        connection.cursor().execute("VACUUM ANALYZE notifications_feedentry")
    newest = (FeedEntry.objects.filter(user=reader).order_by("-notification_id")
              .values_list("notification_id", flat=True)[UNREAD - 1])
    FeedEntry.objects.filter(user=reader, read=False).update(read=True)
    FeedEntry.objects.filter(user=reader, notification_id__gte=newest).update(read=False)
    return rack, reader


def _sql_of(client: object, url: str, headers: dict[str, str]) -> list[tuple[str, tuple]]:
    """The feed's own queries for this URL (not authentication's), with parameters."""
    from django.db import connection

    captured: list[tuple[str, tuple]] = []

    def keep(execute: object, sql: str, params: tuple, many: bool, context: dict) -> object:
        if "notifications_" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:300]
    return captured


def _time_side_by_side(calls: dict[str, object], rounds: int) -> dict[str, list[float]]:
    """Time each call `rounds` times, taking turns, so that a busy moment of the shared
    machine lands on all of them alike rather than on whichever ran then."""
    import time

    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(5, rounds // 10)):
        for call in calls.values():
            call()
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return samples


def _line(label: str, samples: list[float]) -> str:
    return (f"{label:<22} p50 {_ms(_percentile(samples, 0.5)):>9} "
            f"p99 {_ms(_percentile(samples, 0.99)):>9}")


def bench_feed(rounds: int) -> None:
    import base64
    from urllib.parse import urlencode

    import api_bench  # this file as the URLconf: the minimal view and its CAPTURED queries
    from django.db import connection
    from django.test import Client, override_settings
    from knox.models import AuthToken

    from notifications.models import FeedEntry

    try:
        from notifications.unread import unread_count
    except ImportError:  # a checkout that counts in notifications.feed (bench/ab.py's A)
        from notifications.feed import unread_count

    _, reader = load_feed()
    _, token = AuthToken.objects.create(reader)
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    client = Client()
    position = (FeedEntry.objects.filter(user=reader).order_by("-notification_id")
                .values_list("notification_id", flat=True)[DEEP - 1])
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    pages = {"first page": "/api/v1/notifications/",
             f"{DEEP:,} deep": f"/api/v1/notifications/?cursor={cursor}"}
    print(f"(b) feed list, 50 items a page, {FEED_SIZE:,} notifications in the feed, "
          f"{rounds} requests each, taking turns. API = GET with an API token through "
          "Django's test client; view = a plain Django view on the same test client and "
          "middleware running the endpoint's own feed queries (no DRF, no authentication); "
          "SQL = those queries run directly; empty DRF view = DRF and token "
          "authentication answering {\"results\": []}, the floor of any DRF endpoint")
    deep_first = []
    with override_settings(ROOT_URLCONF="api_bench"):
        for n, (label, url) in enumerate(pages.items()):
            queries = _sql_of(client, url, headers)
            api_bench.CAPTURED[str(n)] = queries

            def run_sql(queries: list = queries) -> None:
                with connection.cursor() as cur:
                    for sql, params in queries:
                        cur.execute(sql, params)
                        cur.fetchall()

            taken = _time_side_by_side({
                "api": lambda url=url: client.get(url, **headers),
                "view": lambda n=n: client.get(f"/bench/sql/{n}/"),
                "sql": run_sql,
                "drf": lambda: client.get("/bench/drf-empty/", **headers)}, rounds)
            api, view, raw = (_percentile(taken[k], 0.5) for k in ("api", "view", "sql"))
            deep_first.append(api)
            print(f"    {label}")
            print(f"      {_line('GET /api/v1/notifications/', taken['api'])}")
            print(f"      {_line('minimal view, same SQL', taken['view'])}")
            print(f"      {_line('SQL directly', taken['sql'])}")
            print(f"      {_line('empty DRF view, token', taken['drf'])}")
            print(f"      ratio p50: API/SQL {api / raw:5.2f}x (goal <= 1.5x), "
                  f"API/minimal view {api / view:5.2f}x, view/SQL {view / raw:5.2f}x")
    print(f"    deep page / first page (API p50): {deep_first[1] / deep_first[0]:.2f}x")

    count_sql = ('SELECT COUNT(*) FROM "notifications_feedentry" WHERE '
                 '("notifications_feedentry"."user_id" = %s AND NOT '
                 '"notifications_feedentry"."read")')

    def raw_count() -> None:
        with connection.cursor() as cur:
            cur.execute(count_sql, [reader.pk])
            cur.fetchone()

    assert unread_count(reader.pk) == UNREAD
    taken = _time_side_by_side({
        "function": lambda: unread_count(reader.pk),
        "endpoint": lambda: client.get("/api/v1/notifications/unread-count/", **headers),
        "sql": raw_count}, rounds)
    print(f"(c) unread count, {UNREAD:,} unread of {FEED_SIZE:,}, {rounds} calls each, "
          "taking turns")
    print(f"    {_line('unread_count()', taken['function'])}   (goal < 2 ms)")
    print(f"    {_line('GET unread-count/', taken['endpoint'])}")
    print(f"    {_line('SQL directly', taken['sql'])}")
    AuthToken.objects.filter(user=reader).delete()


def main() -> None:
    import platform
    import subprocess

    quick = "--quick" in sys.argv
    os.chdir(BASE)
    prepare_database()
    setup_django()
    import redis

    redis.Redis.from_url(BENCH_REDIS).flushdb()
    from django.db import connection

    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    print(f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
          f"PostgreSQL {pg}, all on 127.0.0.1")
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    bench_ingest(count=400 if quick else 2000)
    bench_feed(rounds=100 if quick else 500)
    print("load average at end:   {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
