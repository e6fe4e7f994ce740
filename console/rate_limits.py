"""Fixed-window counters in Django's cache (Redis when configured, so shared by every
process): the limits that are checked inside an action rather than in front of a view."""

import time

from django.core.cache import cache


def over_limit(key: str, limit: int, window_seconds: int) -> int | None:
    """Count one more hit on `key`; the seconds to wait when that passes `limit` within
    the current window, else None."""
    window = int(time.time() // window_seconds)
    bucket = f"rate:{key}:{window}"
    # add() creates the counter with its expiry only if it is missing; incr() is atomic.
    cache.add(bucket, 0, timeout=window_seconds + 1)
    try:
        hits = cache.incr(bucket)
    except ValueError:  # expired between the two calls
        cache.add(bucket, 1, timeout=window_seconds + 1)
        hits = 1
    if hits > limit:
        return max(1, (window + 1) * window_seconds - int(time.time()))
    return None
