"""A stream of realistic rack events, as a busy rack would send them."""

import hashlib
import hmac
import itertools
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from racks.models import new_object_id

APPS = ("web", "api", "worker", "billing", "search")
RESOURCE_TYPES = ("postgres", "redis", "mysql", "memcached")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def rack_events(rack_name: str, seed: int | None = None) -> Iterator[dict]:
    """An endless stream of envelopes: deploy cycles, failures, scaling, resources, updates."""
    rng = random.Random(seed)
    apps_made: set[str] = set()
    serial = itertools.count(1)

    def envelope(action: str, status: str = "success", **data: str) -> dict:
        return {"action": action, "status": status, "timestamp": _now(),
                "data": {"rack": rack_name, **data}}

    while True:
        app = rng.choice(APPS)
        if app not in apps_made:
            apps_made.add(app)
            yield envelope("app:create", name=app, app=app)
        build_id, release_id = new_object_id("B"), new_object_id("R")
        roll = rng.random()
        if roll < 0.15:
            yield envelope("build:create", "error", id=build_id, app=app,
                           message="exit status 1")
            continue
        yield envelope("build:create", id=build_id, app=app, release_id=release_id)
        yield envelope("release:create", id=release_id, app=app)
        yield envelope("release:promote", "start", id=release_id, app=app)
        if rng.random() < 0.1:
            yield envelope("release:promote", "error", id=release_id, app=app,
                           message="health check failed")
        else:
            yield envelope("release:promote", id=release_id, app=app)
            if rng.random() < 0.3:
                yield envelope("release:scale", id=release_id, app=app)
        n = next(serial)
        if n % 7 == 0:
            kind = rng.choice(RESOURCE_TYPES)
            yield envelope("resource:create", name=f"{kind}{n}", type=kind)
        if n % 11 == 0:
            yield envelope("rack:update", version=f"3.{n % 30}.{n % 10}")
        if n % 13 == 0:
            yield envelope("rack:capacity")
        if n % 17 == 0:
            yield envelope("process:restart", app=app, process="web")


def signature_header(keys: list[bytes], body: bytes, at: int | None = None) -> str:
    """The `Convox-Signature` header a newer rack sends: one v1 per key."""
    t = int(time.time()) if at is None else at
    signed = f"{t}.".encode() + body
    parts = [f"t={t}"] + [
        "v1=" + hmac.new(key, signed, hashlib.sha256).hexdigest() for key in keys
    ]
    return ",".join(parts)


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":")).encode()
