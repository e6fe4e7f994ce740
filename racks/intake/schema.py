"""The ingest URL in the OpenAPI schema: the view is plain Django, which drf-spectacular
does not enumerate, so its operation and shapes are written out here."""

from racks.intake.envelope import MAX_BODY_BYTES
from racks.intake.view import MAX_IDEMPOTENCY_KEY_LENGTH, TOKEN_PATTERN


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
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS): adds the ingest URL."""
    result.setdefault("paths", {})["/ingest/{token}/"] = INGEST_PATH
    result.setdefault("components", {}).setdefault("schemas", {}).update(INGEST_SCHEMAS)
    return result
