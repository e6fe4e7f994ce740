"""Email digests: a user's batched notifications, sent as one email once their window
has passed.

A digest's deliveries wait as BATCHED rows, which the outbox's claim and sweeper never
read; a failed digest backs off on the outbox's retry schedule (outbox.next_try), its
rows keeping the time of the next try in `next_attempt_at`.
"""

import logging
import smtplib
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from console.metrics import DELIVERIES
from notifications.catalogue import Channel
from notifications.delivery.emails import send_digest_email
from notifications.delivery.outbox import ERROR_MAX, next_try
from notifications.delivery.senders import DeliveryError, mail_error
from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, EmailDigest

log = logging.getLogger(__name__)


def send_due_digests() -> int:
    """Send each user whose digest window has passed one email of their batched ones."""
    now = timezone.now()
    # Why: one email carries all of a user's batched notifications, so after a failure
    # the whole digest waits for its retry time. One batched since then must not bring
    # the retry forward (that would try the failing server again early and spend the
    # older ones' attempts); it goes out with them at that time.
    oldest = dict(Delivery.objects.filter(status=DeliveryStatus.BATCHED)
                  .values("user_id")
                  .annotate(first=Min("created_at"), retry_at=Max("next_attempt_at"))
                  .filter(Q(retry_at=None) | Q(retry_at__lte=now))
                  .values_list("user_id", "first"))
    if not oldest:
        return 0
    windows = dict(EmailDigest.objects.filter(user_id__in=list(oldest))
                   .values_list("user_id", "window_minutes"))
    sent = 0
    for user_id, first in oldest.items():
        if first <= now - timedelta(minutes=windows.get(user_id, 0)):
            sent += send_digest(user_id)
    return sent


def send_digest(user_id: int) -> int:
    """One email with all of a user's batched notifications; answers 1 if it went."""
    user = get_user_model().objects.get(pk=user_id)
    with transaction.atomic():
        batch = list(Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                     .select_related("notification__rack")
                     .filter(user_id=user_id, status=DeliveryStatus.BATCHED)
                     .order_by("created_at"))
        if not batch or _waiting_to_retry(batch):
            return 0
        started_at, started = timezone.now(), time.monotonic()
        failure: DeliveryError | None = None
        try:
            send_digest_email(user, [d.notification for d in batch])
        except Exception as problem:
            log.exception("digest email to user %s failed", user_id)
            # Judged as a single email's failure is: refused for good is not retried.
            failure = (mail_error(problem) if isinstance(problem, smtplib.SMTPException | OSError)
                       else DeliveryError(str(problem), permanent=False))
        error = f"Could not send the digest email: {failure}"[:ERROR_MAX] if failure else ""
        duration_ms = int((time.monotonic() - started) * 1000)
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(delivery=d, started_at=started_at, duration_ms=duration_ms,
                            succeeded=not error, error=error) for d in batch)
        if failure is not None:
            _digest_failed(batch, failure, error)
            return 0
        Delivery.objects.filter(pk__in=[d.pk for d in batch]).update(
            status=DeliveryStatus.DELIVERED, attempts=F("attempts") + 1,
            delivered_at=timezone.now(), next_attempt_at=None, last_error="",
            updated_at=timezone.now())
    DELIVERIES.labels(Channel.EMAIL.value, "delivered").inc(len(batch))
    return 1


def _waiting_to_retry(batch: list[Delivery]) -> bool:
    """A failed digest's next try is not due yet (a tick that read it as due before the
    failure was recorded calls send_digest all the same)."""
    now = timezone.now()
    return any(d.next_attempt_at is not None and d.next_attempt_at > now for d in batch)


def _digest_failed(batch: list[Delivery], failure: DeliveryError, error: str) -> None:
    """Count the attempt on each row of a failed digest, by next_try's rule as for one
    delivery. The digest is one email, so the rows still retrying all wait until the same
    time: that of the row tried most often (the others came into the batch later)."""
    now = timezone.now()
    given_up = [d.pk for d in batch if next_try(d.attempts_since_resend + 1, failure) is None]
    retrying = [d for d in batch if d.pk not in given_up]
    if retrying:
        delay = next_try(max(d.attempts_since_resend for d in retrying) + 1, failure) or 0.0
        Delivery.objects.filter(pk__in=[d.pk for d in retrying]).update(
            attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=delay),
            last_error=error, updated_at=now)
    if given_up:
        Delivery.objects.filter(pk__in=given_up).update(
            status=DeliveryStatus.FAILED, attempts=F("attempts") + 1, next_attempt_at=None,
            last_error=error, updated_at=now)
    DELIVERIES.labels(Channel.EMAIL.value, "retry").inc(len(retrying))
    DELIVERIES.labels(Channel.EMAIL.value, "failed").inc(len(given_up))
