"""The ingest URL: where a rack POSTs its events, exactly as it sends them.

A plain Django view, not DRF: the secret is the URL itself (and, when the rack has
signing keys, the Convox-Signature), the body is read raw and bounded, and the answers
are the contract's: 202, 400, 401, 404, 413, 429. Nothing here may answer 5xx.
"""

import functools
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from notifications.envelope import MAX_BODY_BYTES, EnvelopeError, parse_envelope
from notifications.pipeline import record_event
from racks.models import Rack
from racks.signature import SignatureError, check_signature

MAX_IDEMPOTENCY_KEY_LENGTH = 200
TOKEN_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _too_large() -> JsonResponse:
    return _error(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")


def ingest_rate() -> tuple[int, int]:
    """(requests, seconds) allowed per rack, from DEFAULT_THROTTLE_RATES["ingest"]."""
    count, _, per = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["ingest"].partition("/")
    return int(count), _PERIODS[per[:1]]


def _count_event(key: str, period: int) -> int:
    """This window's count of the rack's events, this one included."""
    if settings.REDIS_URL:
        # One round trip to the cache's Redis: start the window's counter (with its
        # expiry) if it is new, then count. Django's cache.incr costs two (EXISTS, INCR).
        steps = _redis().pipeline(transaction=False)
        steps.set(cache.make_key(key), 0, ex=period + 1, nx=True)
        steps.incr(cache.make_key(key))
        return steps.execute()[1]
    try:
        return cache.incr(key)
    except ValueError:
        # First event of the window; if another thread won the race, count on theirs.
        return 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def seconds_until_allowed(rack: Rack) -> int:
    """0 if the rack may send another event now; else how long it should wait.

    A fixed window counted with one atomic increment: cheap enough to run on every event,
    and shared by every web process when REDIS_URL is set.
    """
    allowed, period = ingest_rate()
    now = time.time()
    window = int(now // period)
    try:
        count = _count_event(f"ingest-rate:{rack.pk}:{window}", period)
    except RedisError:
        # The counter is away (Redis restarting): store the event rather than answer 500.
        return 0
    if count <= allowed:
        return 0
    return max(1, int((window + 1) * period - now + 0.999))


def _declared_length(request: HttpRequest) -> int | None:
    value = request.META.get("CONTENT_LENGTH") or ""
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise ValueError(value)
    return int(value)


@csrf_exempt
def ingest(request: HttpRequest, token: str) -> JsonResponse:
    """Store one rack event: 202 {"notification": id, "duplicate": bool}."""
    if request.method != "POST":
        return _error(405, "Send rack events with POST.", Allow="POST")
    try:
        declared = _declared_length(request)
    except ValueError:
        return _error(400, "The Content-Length header is not a number.")
    if declared is not None and declared > MAX_BODY_BYTES:
        return _too_large()
    rack = Rack.objects.filter(ingest_token=token).first()
    if rack is None:
        return _error(404, "No rack has this ingest URL: copy it again from the rack's "
                           "settings.")
    wait = seconds_until_allowed(rack)
    if wait:
        return _error(429, f"This rack is sending events too fast; retry in {wait} s.",
                      Retry_After=str(wait))
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _too_large()
    keys = rack.signing_keys
    if keys:
        try:
            check_signature(request.headers.get("Convox-Signature"), body, keys)
        except SignatureError as exc:
            return _error(401, str(exc))
    idempotency_key = request.headers.get("Idempotency-Key") or None
    if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        return _error(400, f"The Idempotency-Key header is longer than "
                           f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        return _error(400, str(exc))
    recorded = record_event(rack, envelope, idempotency_key=idempotency_key)
    return JsonResponse({"notification": recorded.notification.pk,
                         "duplicate": recorded.duplicate}, status=202)


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/IngestError"}}}}


INGEST_PATH = {
    "post": {
        "operationId": "ingest_create",
        "summary": "Receive a rack event",
        "description": (
            "What a rack calls: the rack event envelope, exactly as the rack sends it. The "
            "URL carries the rack's secret ingest token. When the rack has signing keys, "
            "`Convox-Signature: t=<unix>,v1=<hex>` is required: HMAC-SHA256 over "
            "`<t>.<raw body>`, keyed with a signing key's bytes, within 5 minutes of now. "
            "The same event sent twice is stored once (`duplicate: true`): an "
            "`Idempotency-Key` header decides when sent, otherwise the event's content."),
        "tags": ["ingest"],
        "security": [{}],
        "parameters": [
            {"name": "token", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": f"^{TOKEN_PATTERN}$"},
             "description": "The rack's ingest token, from its `ingest_url`."},
            {"name": "Convox-Signature", "in": "header", "required": False,
             "schema": {"type": "string"},
             "description": "Required when the rack has signing keys."},
            {"name": "Idempotency-Key", "in": "header", "required": False,
             "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH}},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/RackEvent"}}}},
        "responses": {
            "202": {"description": "Stored, or recognised as already stored.",
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/IngestAccepted"}}}},
            "400": _error_response("The body is not a rack event; `error` says why."),
            "401": _error_response("The signature is missing, stale or does not match."),
            "404": _error_response("No rack has this ingest URL."),
            "405": _error_response("Only POST is accepted."),
            "413": _error_response(f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."),
            "429": _error_response("Too many events from this rack; see Retry-After."),
        },
    },
}

INGEST_SCHEMAS = {
    "RackEvent": {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"type": "string", "example": "app:create",
                       "description": "`<object>:<verb>`, e.g. `release:promote`."},
            "status": {"type": "string", "example": "success",
                       "description": "`success` (the default), `error`, `start`, ..."},
            "timestamp": {"type": "string", "example": "2015-10-28T03:46:24.106682533Z",
                          "description": "RFC 3339; missing, unreadable or zero means now."},
            "data": {"type": "object", "additionalProperties": {"type": "string"},
                     "example": {"rack": "production", "app": "demo"}},
        },
    },
    "IngestAccepted": {
        "type": "object",
        "required": ["notification", "duplicate"],
        "properties": {"notification": {"type": "integer", "nullable": True},
                       "duplicate": {"type": "boolean"}},
    },
    "IngestError": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
}


def document_ingest(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: the ingest URL is a plain Django view that the
    schema generator does not enumerate, so its operation is written out here."""
    result.setdefault("paths", {})["/ingest/{token}/"] = INGEST_PATH
    result.setdefault("components", {}).setdefault("schemas", {}).update(INGEST_SCHEMAS)
    return result
