"""Notification emails through a real SMTP server on 127.0.0.1, one by one or as a digest."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from notifications.delivery.digests import send_due_digests
from notifications.delivery.outbox import JITTER
from notifications.delivery.tasks import send_digests
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, EmailDigest
from notifications.preferences import set_preference
from tests.helpers import free_port, wait_for


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_a_failed_build_is_emailed_to_each_member(celery_worker, smtp, owner, member, viewer,
                                                  rack, emit, settings):
    settings.CONSOLE_URL = "https://console.example.com"
    notification = emit("build:create", "error", id="BABCDEFGHIJ", app="web",
                        message="tests failed", actor="alice")
    wait_for(lambda: len(smtp.messages) == 3, timeout=20)
    assert sorted(m["To"] for m in smtp.messages) == sorted(
        u.email for u in (owner, member, viewer))
    message = smtp.messages[0]
    assert message["Subject"] == "[production] Build BABCDEFGHIJ failed for app web"
    text, html = _parts(message)
    # It names the build, links to its logs, says why it failed, and fills in the id.
    link = f"https://console.example.com/racks/{rack.pk}/apps/web/builds/BABCDEFGHIJ/"
    assert "Run convox builds info BABCDEFGHIJ to view build logs" in text
    assert "Build: BABCDEFGHIJ\r\nWhy: tests failed\r\nBy: alice" in text
    assert "See the build and its logs in Rack Console: " + link in text
    assert "<th align=\"left\" style=\"padding-right:1em\">Why</th><td>tests failed</td>" in html
    assert "<th align=\"left\" style=\"padding-right:1em\">By</th><td><bdi>alice</bdi></td>" in html
    assert "Run convox builds info BABCDEFGHIJ to view build logs" in html
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


# Long enough that a retry can never come due by itself while a test runs.
DIGEST_RETRIES = [0, 300, 600]


def _retry_is_in(delivery: Delivery, seconds: float) -> bool:
    """The delivery's next try is the schedule's delay from now, give or take the jitter."""
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    return seconds * (1 - JITTER) - 5 <= wait <= seconds * (1 + JITTER)


def _come_due(deliveries: QuerySet[Delivery]) -> None:
    """Move time on: the failed digest's next try is now due."""
    deliveries.filter(next_attempt_at__isnull=False).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))


def _window_passed(deliveries: QuerySet[Delivery]) -> None:
    """Move time on: the deliveries were batched longer ago than the 15 minute window."""
    deliveries.update(created_at=timezone.now() - timedelta(minutes=16))


def _digest_due(member, emit, settings) -> QuerySet[Delivery]:
    """A member on a 15 minute digest with one failed build batched, its window passed."""
    settings.DELIVERY_RETRY_SCHEDULE = DIGEST_RETRIES
    EmailDigest.objects.create(user=member, window_minutes=15)
    emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    batched = Delivery.objects.filter(user=member)
    _window_passed(batched)
    return batched


def test_a_failed_digest_is_retried_on_the_schedule_until_it_fails(db, smtp, member, rack,
                                                                  emit, settings):
    settings.EMAIL_PORT = free_port()  # the mail server is down
    batched = _digest_due(member, emit, settings)

    assert send_due_digests() == 0
    delivery = batched.get()
    assert delivery.status == DeliveryStatus.BATCHED and delivery.attempts == 1
    assert "Could not send the digest email" in delivery.last_error
    assert _retry_is_in(delivery, DIGEST_RETRIES[1])
    # The next beat ticks, right away: the digest waits for its retry.
    assert send_due_digests() == 0
    assert send_due_digests() == 0
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1

    _come_due(batched)
    assert send_due_digests() == 0  # tried again, still down
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BATCHED and delivery.attempts == 2
    assert _retry_is_in(delivery, DIGEST_RETRIES[2])
    assert send_due_digests() == 0
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2

    _come_due(batched)
    assert send_due_digests() == 0  # the last try of the schedule
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert delivery.next_attempt_at is None
    assert "Could not send the digest email" in delivery.last_error
    assert send_due_digests() == 0
    assert list(DeliveryAttempt.objects.filter(delivery=delivery)
                .values_list("succeeded", flat=True)) == [False] * 3
    assert smtp.messages == []


def test_a_digest_the_mail_server_refuses_fails_at_once(db, smtp, member, rack, emit,
                                                        settings):
    smtp.refuse.add(member.email)
    batched = _digest_due(member, emit, settings)

    assert send_due_digests() == 0
    delivery = batched.get()
    # Refused for good, as a single email would be: no retry on the schedule.
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at is None
    assert "refused" in delivery.last_error
    assert send_due_digests() == 0
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1
    assert smtp.messages == []


def test_a_digest_retried_once_due_goes_out_with_what_was_batched_meanwhile(
        db, smtp, member, rack, emit, settings):
    mail_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # down
    batched = _digest_due(member, emit, settings)
    assert send_due_digests() == 0
    first = batched.get()
    retry_at = first.next_attempt_at
    assert retry_at is not None and retry_at > timezone.now()

    # Batched after the failure, its own window passed: the digest still waits.
    emit("release:promote", "error", id="RAAAAAAAAAA", app="web", message="boom")
    later = batched.exclude(pk=first.pk).get()
    assert later.status == DeliveryStatus.BATCHED and later.next_attempt_at is None
    _window_passed(batched.filter(pk=later.pk))
    assert send_due_digests() == 0
    assert DeliveryAttempt.objects.count() == 1
    first.refresh_from_db()
    assert first.attempts == 1 and first.next_attempt_at == retry_at

    settings.EMAIL_PORT = mail_port  # the mail server is back
    assert send_due_digests() == 0  # not before the retry is due
    assert smtp.messages == []
    _come_due(batched)
    assert send_due_digests() == 1
    [message] = smtp.messages
    assert message["To"] == member.email
    assert message["Subject"] == "[Rack Console] 2 notifications"
    rows = {d.pk: d for d in batched}
    assert {d.status for d in rows.values()} == {DeliveryStatus.DELIVERED}
    assert all(d.last_error == "" and d.next_attempt_at is None and d.delivered_at
               for d in rows.values())
    assert rows[first.pk].attempts == 2 and rows[later.pk].attempts == 1
    assert list(DeliveryAttempt.objects.filter(delivery=first).order_by("id")
                .values_list("succeeded", flat=True)) == [False, True]
    assert send_due_digests() == 0  # sent once


def test_rack_data_cannot_add_headers_or_markup_to_an_email(db, smtp, member, rack, emit):
    """The email door: a rack's text is the subject's one line and escaped in the HTML."""
    from notifications.delivery.outbox import attempt_deliveries

    notification = emit("release:promote", "error", id="RABCDEFGHIJ", app="web",
                        message="boom\r\nBcc: thief@example.com\r\n\r\n<script>x()</script>")
    pending = Delivery.objects.filter(notification=notification, user=member)
    attempt_deliveries(list(pending.values_list("pk", flat=True)))
    [message] = [m for m in smtp.messages if m["To"] == member.email]
    assert "\n" not in message["Subject"] and message["Bcc"] is None
    assert "Bcc: thief@example.com" in message["Subject"]  # shown, on one line
    _, html = _parts(message)
    assert "<script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
