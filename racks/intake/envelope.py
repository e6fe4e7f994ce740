"""Reading a rack event envelope: what a rack POSTs, checked before anything is stored."""

import json
import re
from datetime import datetime

from console.bounds import in_utc
from notifications.envelope import Envelope

MAX_BODY_BYTES = 256 * 1024
MAX_DATA_KEYS = 100
MAX_KEY_LENGTH = 100
MAX_VALUE_LENGTH = 10_000
ACTION_RE = re.compile(r"^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)+$")
STATUS_RE = re.compile(r"^[a-z][a-z_-]{0,19}$")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


class EnvelopeError(ValueError):
    """The body is not an event a rack would send; the text says why, for the sender."""


def parse_timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP_RE.match(value.strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "0").ljust(6, "0")[:6]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{micros}{zone}")
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    # A time near either end of the calendar (9999-12-31T23:59-23:59) may fall off it
    # in UTC: unreadable, so None ("now"), like any other timestamp that cannot be read.
    return in_utc(parsed)


def _check_text(what: str, value: str, limit: int) -> None:
    if "\x00" in value:
        raise EnvelopeError(f"{what} contains a NUL character.")
    if len(value) > limit:
        raise EnvelopeError(f"{what} is longer than {limit} characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EnvelopeError(f"{what} is not valid Unicode text.") from None


def envelope_from_object(obj: object) -> Envelope:
    """Check a decoded JSON value and build the envelope, or say what is wrong."""
    if not isinstance(obj, dict):
        raise EnvelopeError("The body must be a JSON object with an 'action'.")
    action = obj.get("action")
    if not isinstance(action, str) or not action:
        raise EnvelopeError("'action' is required and must be a string such as 'app:create'.")
    _check_text("'action'", action, 100)
    if not ACTION_RE.match(action):
        raise EnvelopeError("'action' must look like '<object>:<verb>', e.g. 'app:create'.")
    status = obj.get("status", "success")
    if status is None or status == "":
        status = "success"
    if not isinstance(status, str):
        raise EnvelopeError("'status' must be a string such as 'success' or 'error'.")
    _check_text("'status'", status, 20)
    if not STATUS_RE.match(status):
        raise EnvelopeError("'status' must be a word such as 'success', 'error' or 'start'.")
    data = obj.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EnvelopeError("'data' must be an object whose values are strings.")
    if len(data) > MAX_DATA_KEYS:
        raise EnvelopeError(f"'data' has more than {MAX_DATA_KEYS} keys.")
    for key, value in data.items():
        _check_text("A key of 'data'", key, MAX_KEY_LENGTH)
        if not isinstance(value, str):
            raise EnvelopeError(f"'data.{key[:40]}' must be a string.")
        _check_text(f"'data.{key[:40]}'", value, MAX_VALUE_LENGTH)
    return Envelope(action=action, status=status, data=dict(data),
                    timestamp=parse_timestamp(obj.get("timestamp")))


def parse_envelope(body: bytes) -> Envelope:
    """Decode a request body into an envelope, or raise EnvelopeError saying why not."""
    if len(body) > MAX_BODY_BYTES:
        raise EnvelopeError(f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError("The body is not valid UTF-8 text.") from None
    if not text.strip():
        raise EnvelopeError("The body is empty; send the event as a JSON object.")
    try:
        obj = json.loads(text)
    except RecursionError:
        raise EnvelopeError("The body is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"The body is not valid JSON: {exc.msg} at position {exc.pos}.")\
            from None
    except ValueError:
        # The one other ValueError json raises: an integer longer than Python converts
        # (sys.get_int_max_str_digits, 4,300 digits), which no event needs anyway.
        raise EnvelopeError("The body holds a number with too many digits.") from None
    return envelope_from_object(obj)
