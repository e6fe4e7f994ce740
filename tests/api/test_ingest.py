"""A rack posts its events to its ingest URL: signed, duplicated, malformed, oversized."""

import json
import time

import pytest
from django.core.cache import cache

from notifications.catalogue import Channel
from notifications.models import Delivery, FeedEntry, Notification
from racks.intake.envelope import MAX_BODY_BYTES
from racks.intake.signature import sign
from racks.models import App

KEY_A = "a1" * 32
KEY_B = "b2" * 40


def event(action: str = "app:create", status: str = "success", **data: str) -> bytes:
    data = {"rack": "production", "app": "demo", **data}
    return json.dumps({"action": action, "status": status, "data": data,
                       "timestamp": "2026-01-02T03:04:05.123456789Z"}).encode()


def post(client, rack, body: bytes, **headers: str):
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return client.post(rack.ingest_path, body, content_type="application/json", **extra)


def signature(key_hex: str, body: bytes, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    return f"t={at},v1={sign(bytes.fromhex(key_hex), at, body)}"


@pytest.fixture
def signed_rack(rack):
    rack.webhook_signing_key = KEY_A
    rack.save()
    return rack


def test_a_rack_event_becomes_a_notification_in_every_members_feed(client, rack, owner,
                                                                   viewer, outsider):
    response = post(client, rack, event())
    assert response.status_code == 202
    body = response.json()
    assert body["duplicate"] is False
    notification = Notification.objects.get(pk=body["notification"])
    assert notification.message == "[production] Created app demo"
    assert set(FeedEntry.objects.filter(notification=notification)
               .values_list("user__username", flat=True)) == {"olivia", "victor"}
    assert App.objects.filter(rack=rack, name="demo").exists()


def test_an_unknown_ingest_url_is_404(client, rack):
    response = client.post("/ingest/not-a-real-token/", event(),
                           content_type="application/json")
    assert response.status_code == 404
    assert "No rack has this ingest URL" in response.json()["error"]
    assert not Notification.objects.exists()


def test_only_post_is_accepted(client, rack):
    response = client.get(rack.ingest_path)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


# Duplicates


def test_the_same_event_sent_twice_is_stored_once(client, rack):
    first = post(client, rack, event()).json()
    second = post(client, rack, event()).json()
    assert second == {"notification": first["notification"], "duplicate": True}
    assert Notification.objects.count() == 1


def test_an_idempotency_key_decides_what_is_a_duplicate(client, rack):
    first = post(client, rack, event(), Idempotency_Key="evt-1").json()
    again = post(client, rack, event(action="app:delete"), Idempotency_Key="evt-1").json()
    other = post(client, rack, event(), Idempotency_Key="evt-2").json()
    assert again == {"notification": first["notification"], "duplicate": True}
    assert other["duplicate"] is False and other["notification"] != first["notification"]


def test_an_idempotency_key_that_is_too_long_is_refused(client, rack):
    response = post(client, rack, event(), Idempotency_Key="k" * 201)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]
    assert not Notification.objects.exists()


# Signatures


def test_a_correctly_signed_event_is_accepted(client, signed_rack):
    body = event()
    response = post(client, signed_rack, body, Convox_Signature=signature(KEY_A, body))
    assert response.status_code == 202


def test_a_signed_rack_refuses_an_unsigned_event(client, signed_rack):
    response = post(client, signed_rack, event())
    assert response.status_code == 401
    assert "Convox-Signature header is missing" in response.json()["error"]
    assert not Notification.objects.exists()


def test_a_tampered_body_is_refused(client, signed_rack):
    body = event()
    tampered = body.replace(b"demo", b"evil")
    response = post(client, signed_rack, tampered, Convox_Signature=signature(KEY_A, body))
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert not Notification.objects.exists()


def test_a_signature_with_another_key_is_refused(client, signed_rack):
    body = event()
    response = post(client, signed_rack, body, Convox_Signature=signature(KEY_B, body))
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert not Notification.objects.exists()


@pytest.mark.parametrize("age", [400, -400, 3600])
def test_a_stale_or_future_signature_is_refused(client, signed_rack, age):
    body = event()
    at = int(time.time()) - age
    response = post(client, signed_rack, body, Convox_Signature=signature(KEY_A, body, at))
    assert response.status_code == 401
    assert "five minutes" in response.json()["error"]


@pytest.mark.parametrize("skew, accepted", [(300, True), (-300, True), (301, False),
                                             (-301, False)])
def test_the_five_minute_window_is_exact(skew, accepted):
    from racks.intake.signature import SignatureError, check_signature

    key, body, at = bytes.fromhex(KEY_A), b"{}", 1_700_000_000
    header = f"t={at},v1={sign(key, at, body)}"
    if accepted:
        check_signature(header, body, [key], now=at + skew)
    else:
        with pytest.raises(SignatureError):
            check_signature(header, body, [key], now=at + skew)


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=00", "t=1700000000",
                                    "t=１２３,v1=00", "t=" + "9" * 40 + ",v1=00"])
def test_a_garbled_signature_header_is_refused(client, signed_rack, header):
    response = post(client, signed_rack, event(), Convox_Signature=header)
    assert response.status_code == 401
    assert response.json()["error"]
    assert not Notification.objects.exists()


def test_during_a_rotation_both_keys_are_accepted(client, rack):
    rack.webhook_signing_key = f"{KEY_A},{KEY_B}"
    rack.save()
    body_a, body_b = event(app="one"), event(app="two")
    assert post(client, rack, body_a,
                Convox_Signature=signature(KEY_A, body_a)).status_code == 202
    assert post(client, rack, body_b,
                Convox_Signature=signature(KEY_B, body_b)).status_code == 202


def test_any_of_several_signatures_may_match(client, signed_rack):
    body, at = event(), int(time.time())
    good = sign(bytes.fromhex(KEY_A), at, body)
    header = f"t={at},v1={'0' * 64},v1={good}"
    assert post(client, signed_rack, body, Convox_Signature=header).status_code == 202


def test_an_unsigned_rack_ignores_a_signature_header(client, rack):
    assert post(client, rack, event(), Convox_Signature="t=1,v1=00").status_code == 202


# Replay: a signed request sent again is the same event, whatever its Idempotency-Key.


def _failed_build(app: str = "demo") -> bytes:
    """An event that emails the organization by default (build:failed)."""
    return event("build:create", "error", id="BAAAAAAAAAA", app=app, message="exit 1")


def test_a_signed_request_replayed_with_new_idempotency_keys_is_a_duplicate(
        client, signed_rack, owner, member):
    body = _failed_build()
    header = signature(KEY_A, body)
    first = post(client, signed_rack, body, Convox_Signature=header, Idempotency_Key="evt-1")
    assert first.status_code == 202 and first.json()["duplicate"] is False
    emails = Delivery.objects.filter(channel=Channel.EMAIL).count()
    assert emails >= 1
    for n in range(2, 5):
        again = post(client, signed_rack, body, Convox_Signature=header,
                     Idempotency_Key=f"evt-{n}")
        assert again.status_code == 202
        assert again.json() == {"notification": first.json()["notification"],
                                "duplicate": True}
    assert Notification.objects.count() == 1
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == emails


def test_a_replay_with_its_signatures_shuffled_is_still_a_duplicate(client, signed_rack):
    body, at = event(), int(time.time())
    good = sign(bytes.fromhex(KEY_A), at, body)
    first = post(client, signed_rack, body, Convox_Signature=f"t={at},v1={good}").json()
    shuffled = f" v1={'0' * 64}, v1={good} ,t={at}"
    again = post(client, signed_rack, body, Convox_Signature=shuffled, Idempotency_Key="new")
    assert again.json() == {"notification": first["notification"], "duplicate": True}


def test_replays_are_recognised_from_the_database_not_the_cache(client, signed_rack):
    """Another web process, or the same one after Redis restarted, knows the replay: the
    record is the notification's own key, not something kept in Redis."""
    body = event()
    header = signature(KEY_A, body)
    first = post(client, signed_rack, body, Convox_Signature=header).json()
    cache.clear()
    again = post(client, signed_rack, body, Convox_Signature=header, Idempotency_Key="x")
    assert again.json() == {"notification": first["notification"], "duplicate": True}


def test_a_new_signature_over_the_same_idempotency_key_is_still_deduped_by_the_key(
        client, signed_rack):
    """A rack that re-signs its retry (a new t) is deduped by its Idempotency-Key."""
    body = event()
    first = post(client, signed_rack, body, Convox_Signature=signature(KEY_A, body),
                 Idempotency_Key="evt-1").json()
    later = signature(KEY_A, body, int(time.time()) + 5)
    again = post(client, signed_rack, body, Convox_Signature=later, Idempotency_Key="evt-1")
    assert again.json() == {"notification": first["notification"], "duplicate": True}
    assert Notification.objects.count() == 1


def test_requests_with_a_bad_signature_do_not_use_up_the_rate_limit(client, signed_rack,
                                                                    settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ingest": "3/min"}}
    for n in range(10):  # someone with the URL but not the key
        body = event(app=f"forged{n}")
        assert post(client, signed_rack, body,
                    Convox_Signature=signature(KEY_B, body)).status_code == 401
        assert post(client, signed_rack, body).status_code == 401
    for n in range(3):  # the rack itself still has its whole budget
        body = event(app=f"real{n}")
        assert post(client, signed_rack, body,
                    Convox_Signature=signature(KEY_A, body)).status_code == 202
    body = event(app="real9")
    assert post(client, signed_rack, body,
                Convox_Signature=signature(KEY_A, body)).status_code == 429


# Bad input: every case answers 400 with a reason and stores nothing.

DEEP = b'{"action":"app:create","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"

BAD_BODIES = {
    "not json": (b"action=app:create", "not valid JSON"),
    "empty": (b"", "empty"),
    "not an object": (b'["app:create"]', "JSON object"),
    "a bare string": (b'"app:create"', "JSON object"),
    "no action": (b'{"status":"success"}', "'action' is required"),
    "action not a string": (b'{"action":5}', "'action' is required"),
    "action malformed": (b'{"action":"create app"}', "<object>:<verb>"),
    "status not a string": (b'{"action":"app:create","status":true}', "'status' must be"),
    "data not an object": (b'{"action":"app:create","data":[1]}', "'data' must be"),
    "data value a number": (b'{"action":"app:create","data":{"app":5}}', "must be a string"),
    "data value an object": (b'{"action":"app:create","data":{"app":{"x":"y"}}}',
                             "must be a string"),
    "data value null": (b'{"action":"app:create","data":{"app":null}}', "must be a string"),
    "deeply nested": (DEEP, "nested too deeply"),
    "NUL in a value": (b'{"action":"app:create","data":{"app":"a\\u0000b"}}', "NUL"),
    "NUL in a key": (b'{"action":"app:create","data":{"a\\u0000":"b"}}', "NUL"),
    "NUL in the action": (b'{"action":"app:create\\u0000"}', "NUL"),
    "invalid UTF-8": (b'{"action":"app:create","data":{"app":"\xff\xfe"}}', "UTF-8"),
    "lone surrogate": (b'{"action":"app:create","data":{"app":"\\ud800"}}', "Unicode"),
    "lone surrogate in a key": (b'{"action":"app:create","data":{"\\udfff":"x"}}', "Unicode"),
    "too many keys": (json.dumps({"action": "app:create",
                                  "data": {f"k{i}": "v" for i in range(101)}}).encode(),
                      "more than 100 keys"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_input_is_refused_with_a_reason(client, rack, case):
    body, reason = BAD_BODIES[case]
    response = post(client, rack, body)
    assert response.status_code == 400, response.content
    assert reason in response.json()["error"]
    assert not Notification.objects.exists()


def test_a_body_over_the_limit_is_413_by_its_content_length(client, rack):
    body = b'{"action":"app:create","data":{"x":"' + b"a" * MAX_BODY_BYTES + b'"}}'
    response = post(client, rack, body)
    assert response.status_code == 413
    assert "256 KiB" in response.json()["error"]
    assert not Notification.objects.exists()


def post_with_content_length(rack, body: bytes, content_length: str):
    """What the test client cannot send: a body whose Content-Length header lies."""
    from io import BytesIO

    from django.test import RequestFactory

    from racks.intake.view import ingest

    request = RequestFactory().post(rack.ingest_path, b"", content_type="application/json")
    request.META["CONTENT_LENGTH"] = content_length
    request._stream = BytesIO(body)
    return ingest(request, rack.ingest_token)


def test_a_body_longer_than_its_content_length_claims_is_read_only_up_to_the_limit(rack):
    """A sender that under-states Content-Length: the view reads at most the limit + 1."""
    body = b'{"action":"app:create","data":{"x":"' + b"a" * MAX_BODY_BYTES + b'"}}'
    response = post_with_content_length(rack, body, "")  # chunked: no length declared
    assert response.status_code == 413
    assert not Notification.objects.exists()


def test_a_garbage_content_length_is_400(rack):
    response = post_with_content_length(rack, event(), "lots")
    assert response.status_code == 400
    assert "Content-Length" in json.loads(response.content)["error"]
    assert not Notification.objects.exists()


@pytest.mark.parametrize("timestamp", [None, "yesterday", "0001-01-01T00:00:00Z", 12345, ""])
def test_a_missing_garbage_or_zero_timestamp_means_now(client, rack, timestamp):
    envelope = {"action": "app:create", "data": {"app": "demo"}}
    if timestamp is not None:
        envelope["timestamp"] = timestamp
    before = time.time()
    response = post(client, rack, json.dumps(envelope).encode())
    assert response.status_code == 202
    occurred = Notification.objects.get().occurred_at.timestamp()
    assert before - 1 <= occurred <= time.time() + 1


def test_an_unknown_action_is_stored_with_a_generic_line(client, rack):
    response = post(client, rack, event(action="cert:renew", status="skipped"))
    assert response.status_code == 202
    assert Notification.objects.get().message.startswith("[production] cert renew skipped")


# Rate limit


def test_a_rack_sending_too_fast_gets_429_with_retry_after(client, rack, other_rack,
                                                           settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ingest": "3/min"}}
    for n in range(3):
        assert post(client, rack, event(app=f"app{n}")).status_code == 202
    refused = post(client, rack, event(app="app9"))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert "too fast" in refused.json()["error"]
    # The limit is per rack: another rack is not slowed down by this one.
    assert post(client, other_rack, event(app="other")).status_code == 202
