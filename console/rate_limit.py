"""Fixed-window counters in Django's cache: the one rate limit of the console (the ingest
URL, webhook test sends, invitations, connecting racks, registering, password resets).

A window's counter is one atomic increment in the cache, so with REDIS_URL set every web
process counts on the same number; without it (the embedded default) there is one
process and its local memory is enough. Rates are read from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] when a request comes, as DRF's throttles read
theirs, so a deployment (or a test) sets them in one place.
"""

import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def rate(scope: str) -> tuple[int, int]:
    """(requests, seconds) of a scope of DEFAULT_THROTTLE_RATES, e.g. "6000/min"."""
    count, _, per = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].partition("/")
    return int(count), _PERIODS[per[:1]]


def describe(scope: str) -> str:
    """The scope's rate for people, e.g. "5 a minute"."""
    allowed, period = rate(scope)
    return f"{allowed} a {_PERIOD_NAMES[period]}"


def _count(key: str, period: int) -> int:
    """This window's count, this use included."""
    try:
        return cache.incr(key)
    except ValueError:
        # First use in the window; if another process won the race, count on theirs.
        return 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)


def seconds_until_allowed(scope: str, subject: str) -> int:
    """Count one use of `subject` (e.g. a rack's id) against the scope's rate: 0 if it is
    allowed now, else how many seconds until the next window lets it through.

    A counter that cannot be reached (Redis restarting) allows the use: a limit must not
    turn a request into a 500.
    """
    allowed, period = rate(scope)
    now = time.time()
    window = int(now // period)
    try:
        count = _count(f"rate:{scope}:{subject}:{window}", period)
    except RedisError:
        return 0
    if count <= allowed:
        return 0
    return max(1, int((window + 1) * period - now + 0.999))
