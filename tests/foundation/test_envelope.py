"""Reading what a rack sends: good envelopes pass, bad ones are refused with a reason."""

import json
from datetime import UTC, datetime

import pytest

from racks.intake.envelope import EnvelopeError, parse_envelope, parse_timestamp


def body(obj) -> bytes:
    return json.dumps(obj).encode()


def test_the_documented_envelope_is_read_unchanged():
    env = parse_envelope(body({
        "action": "release:promote", "status": "error",
        "timestamp": "2015-10-28T03:46:24.106682533Z",
        "data": {"rack": "example-rack", "app": "example-app", "id": "R123456789",
                 "message": "unable to load release"}}))
    assert env.action == "release:promote" and env.status == "error"
    assert env.app == "example-app"
    assert env.timestamp == datetime(2015, 10, 28, 3, 46, 24, 106682, tzinfo=UTC)


def test_status_defaults_to_success_and_data_to_empty():
    env = parse_envelope(body({"action": "rack:converge"}))
    assert env.status == "success" and env.data == {}


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "0001-01-01T00:00:00Z", 12345,
                                   "2015-13-45T99:00:00Z", ["x"]])
def test_a_missing_unreadable_or_zero_timestamp_means_now(stamp):
    obj = {"action": "app:create", "data": {"rack": "r", "name": "web"}}
    if stamp is not None:
        obj["timestamp"] = stamp
    assert parse_envelope(body(obj)).timestamp is None


def test_timestamps_with_offsets_are_read_as_utc():
    assert parse_timestamp("2024-01-01T10:00:00+02:00") == datetime(2024, 1, 1, 8,
                                                                    tzinfo=UTC)


BAD_BODIES = [
    (b"", "empty"),
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"app:create"', "JSON object"),
    (body({"status": "success"}), "'action' is required"),
    (body({"action": 5}), "'action' is required"),
    (body({"action": "no colon"}), "'<object>:<verb>'"),
    (body({"action": "app:create", "status": 1}), "'status' must be a string"),
    (body({"action": "app:create", "data": []}), "'data' must be an object"),
    (body({"action": "app:create", "data": {"name": 5}}), "'data.name' must be a string"),
    (body({"action": "app:create", "data": {"name": {"deep": "x"}}}), "must be a string"),
    (body({"action": "app:create", "data": {"name": "a\x00b"}}), "NUL"),
    (b'{"action": "app:create", "data": {"name": "\\ud800"}}', "not valid Unicode"),
    (b'{"action": "app:create", "data": {"name": "\xff\xfe"}}', "not valid UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (body({"action": "app:create", "data": {"k": "v" * 20_000}}), "longer than"),
    (body({"action": "app:create", "data": {f"k{i}": "v" for i in range(200)}}), "more than"),
    (b" " * (300 * 1024), "larger than"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_BODIES)
def test_a_bad_envelope_is_refused_with_a_clear_reason(raw, reason):
    with pytest.raises(EnvelopeError) as err:
        parse_envelope(raw)
    assert reason in str(err.value)


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59.999999999-23:59",
                                   "0001-01-01T00:00:00.5+23:59"])
def test_a_timestamp_off_the_calendar_in_utc_means_now(stamp):
    assert parse_timestamp(stamp) is None


def test_a_number_with_thousands_of_digits_is_refused_with_a_reason():
    with pytest.raises(EnvelopeError, match="too many digits"):
        parse_envelope(b'{"action": "app:create", "data": {"a": ' + b"1" * 5_000 + b"}}")
