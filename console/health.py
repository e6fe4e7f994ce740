"""Probes for load balancers and orchestrators: /healthz (the process answers) and
/readyz (it can serve: the database and Redis answer, every migration is applied).

They are answered by the first middleware, before the SSL redirect and the host check,
because probes address the process by its IP over plain HTTP. A late beat (the delivery
sweeper has not run for three intervals) is reported in the body, not as unready: one dead
beat must not take every web process out of the load balancer.
"""

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse

SWEEP_MARK = "health:sweeper-ran-at"
# When a probe first found no run of the sweeper: a beat that never runs is late three
# intervals after that, and a console that just started is not.
WAIT_MARK = "health:sweeper-awaited-since"
# Loading the migration graph takes a while: once everything is applied, that stays true
# for this process; until then it is looked at again at most this often.
MIGRATIONS_RECHECK_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 0.5

_migrations_applied = False
_migrations_checked_at = 0.0
_unapplied = 0
_lock = threading.Lock()
_redis: redis.Redis | None = None


def record_sweep() -> None:
    """The delivery sweeper ran (called by the beat task)."""
    cache.set(SWEEP_MARK, time.time(), timeout=None)


def sweeper_state() -> dict[str, Any]:
    ran_at = cache.get(SWEEP_MARK)
    interval = settings.SWEEP_INTERVAL_SECONDS
    if ran_at is None:
        cache.add(WAIT_MARK, time.time(), timeout=None)
        waited = max(0.0, time.time() - (cache.get(WAIT_MARK) or time.time()))
        return {"last_run_seconds_ago": None, "late": waited > 3 * interval,
                "interval_seconds": interval}
    ago = max(0.0, time.time() - ran_at)
    return {"last_run_seconds_ago": round(ago, 1), "late": ago > 3 * interval,
            "interval_seconds": interval}


def _database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _redis_state() -> str:
    global _redis
    if not settings.REDIS_URL:
        return "not used"
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT_SECONDS,
                                      socket_connect_timeout=PROBE_TIMEOUT_SECONDS)
    _redis.ping()
    return "ok"


def _migrations() -> str:
    global _migrations_applied, _migrations_checked_at, _unapplied
    with _lock:
        if not _migrations_applied and \
                time.monotonic() - _migrations_checked_at > MIGRATIONS_RECHECK_SECONDS:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            _unapplied = len(plan)
            _migrations_applied = not plan
            _migrations_checked_at = time.monotonic()
    return "ok" if _migrations_applied else f"{_unapplied} unapplied"


def _check(probe: Callable[[], str]) -> tuple[bool, str]:
    try:
        state = probe()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return False, f"unreachable: {type(exc).__name__}"
    return state in ("ok", "not used"), state


def readiness() -> tuple[bool, dict[str, Any]]:
    checks = {"database": _check(_database), "redis": _check(_redis_state)}
    if checks["database"][0]:
        checks["migrations"] = _check(_migrations)
    ready = all(ok for ok, _ in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unready",
                            **{name: state for name, (_, state) in checks.items()}}
    try:
        body["sweeper"] = sweeper_state()
    except Exception as exc:  # noqa: BLE001 - the cache is Redis, reported above
        body["sweeper"] = {"error": type(exc).__name__}
    return ready, body


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


class Probes:
    """Answers /healthz and /readyz before any other middleware runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return _json(200, {"status": "ok"})
        if request.path == "/readyz":
            ready, body = readiness()
            return _json(200 if ready else 503, body)
        return self.get_response(request)
