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
