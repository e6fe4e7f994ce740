"""Notification emails through a real SMTP server on 127.0.0.1, one by one or as a digest."""

from datetime import timedelta

from django.utils import timezone

from notifications.delivery.outbox import send_due_digests
from notifications.delivery.tasks import send_digests
from notifications.models import Delivery, DeliveryStatus, EmailDigest
from notifications.preferences import set_preference
from tests.helpers import wait_for


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_a_failed_build_is_emailed_to_each_member(celery_worker, smtp, owner, member, viewer,
                                                  rack, emit, settings):
    settings.CONSOLE_URL = "https://console.example.com"
    notification = emit("build:create", "error", id="BABCDEFGHIJ", app="web",
                        message="tests failed")
    wait_for(lambda: len(smtp.messages) == 3, timeout=20)
    assert sorted(m["To"] for m in smtp.messages) == sorted(
        u.email for u in (owner, member, viewer))
    message = smtp.messages[0]
    assert message["Subject"] == "[production] Build BABCDEFGHIJ failed for app web"
    text, html = _parts(message)
    link = f"https://console.example.com/racks/{rack.pk}/apps/web/"
    assert "Run convox builds info <id> to view build logs" in text
    assert "Run convox builds info &lt;id&gt; to view build logs" in html  # escaped
    for part in (text, html):
        assert "[production] Build BABCDEFGHIJ failed for app web" in part
        assert link in part
        assert "https://console.example.com/settings/notifications/" in part
    wait_for(lambda: Delivery.objects.filter(notification=notification,
                                             status=DeliveryStatus.DELIVERED).count() == 3)


def test_emails_follow_preferences(celery_worker, smtp, owner, member, rack, emit):
    set_preference(member, event_type="build:failed", channels=["in_app"])
    set_preference(member, event_type="app:create", channels=["email"])
    emit("build:create", "error", id="BABCDEFGHIJ", app="web")
    emit("app:create", app="api", name="api")
    wait_for(lambda: len(smtp.messages) == 2, timeout=20)
    got = sorted((m["To"], m["Subject"]) for m in smtp.messages)
    assert got == [(member.email, "[production] Created app api"),
                   (owner.email, "[production] Build BABCDEFGHIJ failed for app web")]


def test_a_refused_recipient_fails_without_retry(celery_worker, smtp, member, rack, emit):
    smtp.refuse.add(member.email)
    emit("build:create", "error", id="BABCDEFGHIJ", app="web")
    delivery = wait_for(lambda: Delivery.objects.filter(
        user=member, status=DeliveryStatus.FAILED).first(), timeout=20)
    assert delivery.attempts == 1 and "refused" in delivery.last_error
    assert smtp.messages == []


def test_a_mail_server_that_is_down_is_retried(celery_worker, member, rack, emit, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0.2, 0.2]
    emit("build:create", "error", id="BABCDEFGHIJ", app="web")
    delivery = wait_for(lambda: Delivery.objects.filter(
        user=member, status=DeliveryStatus.FAILED).first(), timeout=20)
    assert delivery.attempts == 3 and "Could not reach the mail server" in delivery.last_error


def test_a_digest_batches_a_windows_emails_into_one(db, smtp, owner, member, rack, emit):
    EmailDigest.objects.create(user=member, window_minutes=15)
    emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    emit("release:promote", "error", id="RAAAAAAAAAA", app="web", message="boom")
    batched = Delivery.objects.filter(user=member, status=DeliveryStatus.BATCHED)
    assert batched.count() == 2
    assert Delivery.objects.filter(user=owner, status=DeliveryStatus.PENDING).count() == 2
    assert send_due_digests() == 0  # the window has not passed
    batched.update(created_at=timezone.now() - timedelta(minutes=16))
    assert send_due_digests() == 1
    [message] = smtp.messages
    assert message["To"] == member.email
    assert message["Subject"] == "[Rack Console] 2 notifications"
    text, html = _parts(message)
    for part in (text, html):
        assert "[production] Build BAAAAAAAAAA failed for app web" in part
        assert "[production] Promoting release RAAAAAAAAAA failed for app web: boom" in part
    assert Delivery.objects.filter(user=member, status=DeliveryStatus.DELIVERED).count() == 2
    assert send_due_digests() == 0  # sent once


def test_the_digest_task_runs_on_a_worker(celery_worker, smtp, member, rack, emit):
    EmailDigest.objects.create(user=member, window_minutes=15)
    emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    Delivery.objects.filter(user=member).update(
        created_at=timezone.now() - timedelta(hours=1))
    send_digests.delay()
    wait_for(lambda: smtp.messages, timeout=20)
    assert smtp.messages[0]["Subject"] == "[Rack Console] 1 notification"
