"""Webhooks delivered by a real Celery worker on Redis to a real receiver on 127.0.0.1."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.api.serializers import NotificationItemSerializer
from notifications.delivery.endpoints import create_endpoint, rotate_secret
from notifications.delivery.outbox import redeliver, send_test_event
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus
from tests.delivery.conftest import Answer
from tests.helpers import wait_for


def _settled(endpoint, count: int = 1) -> list[Delivery]:
    def done():
        rows = list(Delivery.objects.filter(endpoint=endpoint).order_by("id"))
        settled = [d for d in rows if d.status in (DeliveryStatus.DELIVERED,
                                                   DeliveryStatus.FAILED)]
        return rows if len(settled) >= count else None
    return wait_for(done, timeout=20)


def test_a_failed_build_reaches_a_members_webhook_signed(celery_worker, member, rack,
                                                         receiver, emit):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["build:failed"])
    receiver.secrets = [secret]
    notification = emit("build:create", "error", id="BABCDEFGHIJ", app="web",
                        message="tests failed", actor="alice")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert not receiver.rejected
    [body] = receiver.verified
    assert body["type"] == "build:create"
    assert body["data"]["id"] == notification.pk
    assert body["data"]["message"] == "[production] Build BABCDEFGHIJ failed for app web"
    assert body["data"]["actor"] == "alice"
    assert body["timestamp"] == body["data"]["occurred_at"]
    [request] = receiver.requests
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["content-type"] == "application/json"
    assert delivery.attempt_log.get().succeeded


def test_an_endpoint_gets_only_the_event_types_it_lists(celery_worker, member, rack,
                                                        receiver, emit):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["app:create"])
    emit("resource:create", name="pg1", type="postgres")
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert json.loads(receiver.requests[0].body)["type"] == "app:create"
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_receiver_that_is_down_gets_the_delivery_once_it_is_up(celery_worker, member, rack,
                                                                 receiver, emit, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0.5, 1.0, 1.5, 2.0, 2.0]
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.secrets = [secret]
    receiver.down()
    emit("app:create", app="web", name="web")
    wait_for(lambda: DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).count() >= 2,
             timeout=10)
    receiver.up()
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts >= 3
    log = list(delivery.attempt_log.order_by("id"))
    assert not log[0].succeeded and "connect" in log[0].error.lower()
    assert log[-1].succeeded
    assert len(receiver.verified) == 1
    assert receiver.requests[0].headers["webhook-id"] == delivery.webhook_id


def test_retries_carry_the_same_webhook_id_and_give_up_after_the_schedule(
        celery_worker, member, rack, receiver, emit):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=503, body=b"busy"))
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 5 == len(receiver.requests)
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.webhook_id}
    assert delivery.last_status_code == 503 and "busy" in delivery.last_error
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.3 * 0.9  # the schedule's second step, less the jitter
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None


def test_a_redelivery_counts_on_and_gets_the_whole_retry_schedule_again(
        celery_worker, member, rack, receiver, emit, client_for):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=503, body=b"busy"))
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.attempts == 5
    redeliver(delivery)
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED,
                                             attempts=10).exists(), timeout=20)
    delivery.refresh_from_db()
    assert delivery.attempts == 10 == delivery.attempt_log.count() == len(receiver.requests)
    second_round = receiver.requests[5:]
    gaps = [b.at - a.at for a, b in zip(second_round, second_round[1:], strict=False)]
    assert len(gaps) == 4 and gaps[0] >= 0.3 * 0.9  # the schedule's steps again, from 0
    [shown] = client_for(member).get(
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert shown["attempts"] == len(shown["attempt_log"]) == 10


def test_429_waits_for_retry_after(celery_worker, member, rack, receiver, emit, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0.1, 5]  # Retry-After counts up to the longest step
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=429, headers={"Retry-After": "2"}), Answer(status=204))
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    first, second = receiver.requests
    assert second.at - first.at >= 1.9


@pytest.mark.parametrize("status", [400, 404, 301, 302])
def test_other_4xx_and_redirects_fail_without_retry(celery_worker, member, rack, receiver, emit,
                                                    status):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=status, headers={"Location": "http://127.0.0.1:1/elsewhere"}))
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1 == len(receiver.requests)
    if status < 400:
        assert "redirects are not followed" in delivery.last_error


def test_410_disables_the_endpoint_and_tells_its_owner(celery_worker, member, rack, receiver,
                                                       emit, mailoutbox):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=410, body=b"gone"))
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    wait_for(lambda: mailoutbox)
    assert mailoutbox[0].to == [member.email]
    assert receiver.url in mailoutbox[0].body
    emit("app:delete", app="web", name="web")
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1  # nothing more is written


def test_an_endpoint_failing_for_days_is_disabled(celery_worker, member, rack, receiver, emit,
                                                  mailoutbox):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    endpoint.failing_since = timezone.now() - timedelta(days=5, minutes=1)
    endpoint.save()
    receiver.answer(Answer(status=500))
    emit("app:create", app="web", name="web")
    wait_for(lambda: mailoutbox, timeout=20)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert "disabled" in delivery.last_error


def test_a_slow_receiver_is_cut_off_at_the_timeout(celery_worker, member, rack, receiver, emit,
                                                   settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(drip=50))  # 10 s of dripping, each byte well within 1 s
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert "did not answer within 1 s" in delivery.last_error  # the whole-attempt deadline
    wait_for(lambda: receiver.cut_off)  # it hung up mid-answer


def test_a_huge_answer_is_read_only_up_to_the_limit(celery_worker, member, rack, receiver, emit,
                                                    settings):
    settings.WEBHOOK_MAX_RESPONSE_BYTES = 1024
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=500, body=b"x" * 5_000_000))
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    emit("app:create", app="web", name="web")
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 500
    assert len(delivery.last_error) < 400
    wait_for(lambda: receiver.cut_off)  # it stopped reading, long before 5 MB


def test_during_a_rotation_both_secrets_sign(celery_worker, member, rack, receiver, emit):
    endpoint, old = create_endpoint(member, url=receiver.url, events=["*"])
    new = rotate_secret(endpoint)
    assert new != old and new.startswith("whsec_")
    emit("app:create", app="web", name="web")
    _settled(endpoint)
    from standardwebhooks.webhooks import Webhook
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)
    # After the overlap only the new secret signs.
    endpoint.previous_secret_until = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    emit("app:delete", app="web", name="web")
    _settled(endpoint, 2)
    latest = receiver.requests[1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(latest.body, latest.headers)


def test_a_test_event_reaches_the_endpoint(celery_worker, member, receiver):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.secrets = [secret]
    delivery = send_test_event(endpoint)
    _settled(endpoint)
    [body] = receiver.verified
    assert body["type"] == "webhook:test" and body["data"]["id"] is None
    # A receiver can parse it as any other event: every field the API documents is there.
    assert body["data"].keys() == NotificationItemSerializer().fields.keys()
    assert body["data"]["source"] == "console"
    assert receiver.requests[0].headers["webhook-id"] == delivery.webhook_id


def test_the_secret_is_not_stored_in_plain_text(db, member, receiver):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    raw = secret.removeprefix("whsec_")
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM notifications_webhookendpoint")
        dump = repr(cursor.fetchall())
    assert raw not in dump and secret not in dump


def test_the_log_keeps_each_attempts_bodies_without_the_secret(celery_worker, member, receiver):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=200, body=b"thanks"))
    send_test_event(endpoint)
    [delivery] = _settled(endpoint)
    [attempt] = delivery.attempt_log.all()
    assert attempt.request_body == receiver.requests[0].body.decode()
    assert json.loads(attempt.request_body)["type"] == "webhook:test"
    assert attempt.response_body == "thanks"
    for field in (attempt.request_body, attempt.response_body):
        assert secret not in field and secret.removeprefix("whsec_") not in field


def test_a_big_odd_answer_is_kept_cut_to_4_kib_and_the_secret_blanked(
        celery_worker, member, receiver, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    # A receiver that echoes the secret, with a NUL (PostgreSQL's text cannot hold one)
    # and bytes that are not UTF-8, then far more than the log keeps.
    receiver.answer(Answer(status=500, body=b"bad\x00\xff " + secret.encode() + b" "
                           + b"y" * 10_000))
    send_test_event(endpoint)
    [delivery] = _settled(endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    [attempt] = delivery.attempt_log.all()
    assert attempt.response_body.startswith("bad\ufffd\ufffd [signing secret] yyy")
    assert len(attempt.response_body.encode()) == 4096
    assert secret.removeprefix("whsec_") not in attempt.response_body
    # The error quotes the answer's start as the log keeps it: without the secret either.
    assert delivery.last_error.startswith("The receiver answered 500: bad\ufffd\ufffd [signing")
    assert secret.removeprefix("whsec_") not in attempt.error
    assert attempt.request_body == receiver.requests[0].body.decode()


def test_an_attempt_that_got_no_answer_keeps_what_it_sent(celery_worker, member, receiver,
                                                          settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0]
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.down()
    send_test_event(endpoint)
    [delivery] = _settled(endpoint)
    [attempt] = delivery.attempt_log.all()
    assert json.loads(attempt.request_body)["type"] == "webhook:test"
    assert attempt.response_body == ""
