"""The ingest URL: where a rack POSTs its events, exactly as it sends them.

A plain Django view, not DRF: the secret is the URL itself (and, when the rack has
signing keys, the Convox-Signature), the body is read raw and bounded, and the answers
are the contract's: 202, 400, 401, 404, 413, 429. Nothing here may answer 5xx.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from console import metrics, rate_limit
from racks.intake.envelope import MAX_BODY_BYTES, EnvelopeError, parse_envelope
from racks.intake.receive import receive_event
from racks.intake.signature import SignatureError, check_signature
from racks.models import Rack

MAX_IDEMPOTENCY_KEY_LENGTH = 200
TOKEN_PATTERN = r"[A-Za-z0-9_-]{1,64}"


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _too_large() -> JsonResponse:
    return _error(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")


def seconds_until_allowed(rack: Rack) -> int:
    """Count one event of the rack: 0 if it may be taken now, else how long to wait.

    Called only for requests that passed the signature check, so someone holding a
    leaked URL but no signing key cannot use up a signed rack's budget. An unsigned rack
    has nothing to check: every request to its URL counts.
    """
    return rate_limit.seconds_until_allowed("ingest", str(rack.pk))


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
    with metrics.timed("ingest"):
        response = _ingest(request, token)
    if response.status_code == 202:
        outcome = "duplicate" if json.loads(response.content)["duplicate"] else "stored"
    else:
        outcome = f"refused_{response.status_code}"
    metrics.EVENTS_INGESTED.labels(outcome).inc()
    return response


def _ingest(request: HttpRequest, token: str) -> JsonResponse:
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
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _too_large()
    signature_key = ""
    keys = rack.signing_keys
    if keys:
        try:
            signature_key = check_signature(request.headers.get("Convox-Signature"), body,
                                            keys)
        except SignatureError as exc:
            return _error(401, str(exc))
    wait = seconds_until_allowed(rack)
    if wait:
        return _error(429, f"This rack is sending events too fast; retry in {wait} s.",
                      Retry_After=str(wait))
    idempotency_key = request.headers.get("Idempotency-Key") or None
    if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        return _error(400, f"The Idempotency-Key header is longer than "
                           f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        return _error(400, str(exc))
    recorded = receive_event(rack, envelope, idempotency_key=idempotency_key,
                             signature_key=signature_key)
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
            "`Idempotency-Key` header decides when sent, otherwise the event's content. "
            "A signed request seen before (the same `Convox-Signature` over the same "
            "body) is the same event, whatever its `Idempotency-Key`. Only requests that "
            "pass the signature check count against the rack's rate limit."),
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
