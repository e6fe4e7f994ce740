"""Checking the `Convox-Signature` a newer rack puts on its events.

`Convox-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`: each v1 is HMAC-SHA256 over
b"<t>." + the raw body, keyed with the raw bytes of one of the rack's signing keys.
Two keys exist during a rotation, and a rack may send several v1 values: any v1 that
matches any key makes the request authentic, if t is within five minutes of now.

The signature covers t and the body, not the Idempotency-Key: a captured request can be
sent again, with any other header, for as long as t is in the window. check_signature
therefore answers the request's signed identity (a digest of t and the body), the same
for every replay of it, which the pipeline stores as a dedupe key of the notification.
A signature can be valid for twice TOLERANCE_SECONDS (t up to five minutes ahead, then
five behind); the key is kept as long as its notification, in the database, so every web
process sees it and a Redis restart forgets nothing.
"""

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 1000


class SignatureError(Exception):
    """The request is not signed by the rack; the text says why, for the sender."""


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The v1 value for a body, as the rack computes it."""
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError("The Convox-Signature timestamp t is not a number of "
                                     "seconds.")
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("The Convox-Signature header has no timestamp t=.")
    if not signatures:
        raise SignatureError("The Convox-Signature header has no v1= signature.")
    return timestamp, signatures


def signed_identity(timestamp: int, body: bytes) -> str:
    """What a valid signature vouches for, as a dedupe key: every replay of the request
    (whichever v1 values and other headers it carries) has the same one."""
    return "sig:" + hashlib.sha256(str(timestamp).encode() + b"." + body).hexdigest()


def check_signature(header: str | None, body: bytes, keys: list[bytes],
                    now: float | None = None) -> str:
    """The request's signed identity if the body is signed with one of the keys; raise
    SignatureError if not."""
    if not header:
        raise SignatureError("This rack signs its events: the Convox-Signature header is "
                             "missing.")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("The Convox-Signature header is too long.")
    timestamp, signatures = _parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("The Convox-Signature timestamp is more than five minutes from "
                             "now: check the rack's clock, or this is a replay.")
    expected = [sign(key, timestamp, body) for key in keys]
    if any(hmac.compare_digest(given.encode(), wanted.encode())
           for given in signatures for wanted in expected):
        return signed_identity(timestamp, body)
    raise SignatureError("The Convox-Signature does not match the body and the rack's "
                         "signing keys.")
