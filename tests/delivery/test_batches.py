"""Deliveries go out in batches: one task claims many, sends them at once, logs each."""

from datetime import timedelta

from django.utils import timezone

from notifications.delivery import signing
from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.outbox import attempt_deliveries
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus
from notifications.preferences import set_preference
from tests.delivery.conftest import Answer, Receiver
from tests.helpers import wait_for


def test_one_failing_receiver_does_not_hold_back_the_others(db, member, rack, receiver,
                                                            emit):
    broken = Receiver()
    try:
        broken.answer(Answer(status=503, body=b"busy"))
        good, good_secret = create_endpoint(member, url=receiver.url, events=["*"])
        bad, _ = create_endpoint(member, url=broken.url, events=["*"])
        receiver.secrets = [good_secret]
        emit("app:create", app="web", name="web")

        assert attempt_deliveries(list(Delivery.objects.values_list("pk", flat=True))) == 2

        delivered = Delivery.objects.get(endpoint=good)
        assert delivered.status == DeliveryStatus.DELIVERED
        assert len(receiver.verified) == 1 and not receiver.rejected
        retried = Delivery.objects.get(endpoint=bad)
        assert retried.status == DeliveryStatus.PENDING and retried.attempts == 1
        assert retried.next_attempt_at > timezone.now()  # later, on the retry schedule
        assert retried.last_status_code == 503 and "busy" in retried.last_error
        [good_try] = delivered.attempt_log.all()
        [bad_try] = retried.attempt_log.all()
        assert good_try.succeeded and good_try.status_code == 200
        assert not bad_try.succeeded and bad_try.status_code == 503

        # Once due, the retry goes out with the same webhook-id, and is logged on its own.
        broken.answer(Answer(status=204))
        Delivery.objects.filter(pk=retried.pk).update(next_attempt_at=timezone.now())
        assert attempt_deliveries([retried.pk]) == 1
        retried.refresh_from_db()
        assert retried.status == DeliveryStatus.DELIVERED and retried.attempts == 2
        assert [r.headers["webhook-id"] for r in broken.requests] == [retried.webhook_id] * 2
        assert list(retried.attempt_log.order_by("id").values_list("status_code", flat=True)) \
            == [503, 204]
        assert len(receiver.requests) == 1  # the delivered one was not sent again
    finally:
        broken.down()


def test_a_task_takes_other_due_deliveries_but_not_ones_waiting_to_retry(
        db, member, rack, receiver, emit):
    create_endpoint(member, url=receiver.url, events=["*"])
    for name in ("web", "api", "worker"):
        emit("app:create", app=name, name=name)
    first, second, waiting = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert attempt_deliveries([first.pk]) == 2  # its own, and the other one that is due
    assert attempt_deliveries([second.pk]) == 0  # its own task finds it sent
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {first.pk: DeliveryStatus.DELIVERED,
                        second.pk: DeliveryStatus.DELIVERED,
                        waiting.pk: DeliveryStatus.PENDING}
    assert len(receiver.requests) == 2
    assert DeliveryAttempt.objects.count() == 2


def test_a_batch_is_at_most_the_batch_size_and_a_tasks_own_deliveries_come_first(
        db, member, rack, receiver, emit, settings):
    settings.DELIVERY_BATCH_SIZE = 2
    create_endpoint(member, url=receiver.url, events=["*"])
    for n in range(5):
        emit("app:create", app=f"app{n}", name=f"app{n}")
    ids = list(Delivery.objects.order_by("id").values_list("pk", flat=True))

    assert attempt_deliveries([ids[-1]]) == 2
    sent = set(Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
               .values_list("pk", flat=True))
    assert ids[-1] in sent and len(sent) == 2


def test_an_endpoints_secret_is_decrypted_once_per_batch(db, member, rack, receiver, emit,
                                                         monkeypatch):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.secrets = [secret]
    decrypted: list[str] = []
    real = signing.decrypt_secret
    monkeypatch.setattr(signing, "decrypt_secret",
                        lambda token: decrypted.append(token) or real(token))
    for n in range(4):
        emit("app:create", app=f"app{n}", name=f"app{n}")

    assert attempt_deliveries([]) == 4
    assert len(decrypted) == 1
    assert len(receiver.verified) == 4 and not receiver.rejected
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 4


def test_a_batchs_emails_share_one_mail_connection(db, smtp, owner, member, viewer, rack,
                                                   emit):
    emit("build:create", "error", id="BABCDEFGHIJ", app="web")
    emit("build:create", "error", id="BBBCDEFGHIJ", app="web")
    emails = list(Delivery.objects.filter(channel="email").values_list("pk", flat=True))
    assert len(emails) == 6

    assert attempt_deliveries(emails) == 6
    assert len(smtp.messages) == 6
    assert len(set(smtp.peers)) == 1
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 6


def test_a_refused_recipient_fails_alone_and_the_connection_goes_on(db, smtp, owner, member,
                                                                    rack, emit):
    smtp.refuse.add(member.email)
    emit("build:create", "error", id="BABCDEFGHIJ", app="web")

    assert attempt_deliveries([]) == 2
    refused = Delivery.objects.get(user=member)
    assert refused.status == DeliveryStatus.FAILED and "refused" in refused.last_error
    assert Delivery.objects.get(user=owner).status == DeliveryStatus.DELIVERED
    assert [m["To"] for m in smtp.messages] == [owner.email]


def test_a_burst_of_notifications_is_delivered_by_the_worker(celery_worker, member, rack,
                                                             receiver, emit):
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.secrets = [secret]
    set_preference(member, event_type="*", channels=["webhook"])
    for n in range(60):
        emit("app:create", app=f"app{n}", name=f"app{n}")
    wait_for(lambda: Delivery.objects.filter(endpoint=endpoint,
                                             status=DeliveryStatus.DELIVERED).count() == 60,
             timeout=30)
    assert len(receiver.verified) == 60 and not receiver.rejected
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 60
    assert DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).count() == 60
