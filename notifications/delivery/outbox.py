"""The life of a delivery: queued after commit, attempted, retried, logged, recovered.

A delivery row is written in its notification's transaction (recipients.py), so the row,
not the broker message, is the truth: a task only says "look at delivery N now". An
attempt first claims the row (PENDING -> SENDING, with a lease in `next_attempt_at`) in
one UPDATE, so a stale or duplicated task finds nothing to do, and a delivered row is
never sent again. The sweeper re-queues rows whose task was lost (still due a while
after they should have been claimed, or a lease that ran out because a worker died).
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from notifications.catalogue import Channel
from notifications.delivery import http
from notifications.delivery.emails import send_digest_email
from notifications.delivery.endpoints import note_endpoint_failure, note_endpoint_success
from notifications.delivery.senders import DeliveryError, sender_for
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailDigest,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

# Seconds before each attempt: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1
# A task may arrive a little before the row is due (clocks, countdown rounding).
EARLY_TOLERANCE = timedelta(seconds=1)
DEFAULT_LEASE_MARGIN_SECONDS = 30.0
DEFAULT_SWEEP_GRACE_SECONDS = 120.0
SWEEP_BATCH = 1000
ERROR_MAX = 2000


def retry_schedule() -> tuple[float, ...]:
    return tuple(getattr(settings, "DELIVERY_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE))


def sweep_grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "DELIVERY_SWEEP_GRACE_SECONDS",
                                     DEFAULT_SWEEP_GRACE_SECONDS))


def lease_length() -> timedelta:
    margin = getattr(settings, "DELIVERY_LEASE_MARGIN_SECONDS", DEFAULT_LEASE_MARGIN_SECONDS)
    return timedelta(seconds=http.timeout_seconds() + margin)


def backoff_seconds(attempts_done: int, retry_after: float | None = None) -> float:
    """The wait before the next attempt, with jitter; a receiver's Retry-After counts."""
    schedule = retry_schedule()
    delay = schedule[attempts_done] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


def enqueue(delivery_id: int, countdown: float = 0) -> None:
    """Ask a worker to attempt the delivery; a lost message is the sweeper's to find."""
    from notifications.delivery.tasks import deliver

    try:
        deliver.apply_async(args=[delivery_id], countdown=countdown or None)
    except Exception:
        log.exception("queueing delivery %s failed; the sweeper will re-queue it",
                      delivery_id)


def queue_deliveries(notification_id: int, delivery_ids: list[int] | None = None) -> None:
    """Queue the notification's pending deliveries (runs after its transaction commits).

    The pipeline passes the ids it just wrote, sparing a read; other callers give none.
    """
    if delivery_ids is None:
        delivery_ids = list(Delivery.objects.filter(
            notification_id=notification_id, status=DeliveryStatus.PENDING,
        ).values_list("pk", flat=True))
    for delivery_id in delivery_ids:
        enqueue(delivery_id)


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + EARLY_TOLERANCE,
    ).update(status=DeliveryStatus.SENDING, next_attempt_at=now + lease_length(),
             attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return None
    return (Delivery.objects.select_related("notification__rack", "endpoint__user", "user")
            .get(pk=delivery_id))


def attempt_delivery(delivery_id: int) -> None:
    """Try the delivery once if it is due and nobody else is sending it."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return
    started_at, started = timezone.now(), time.monotonic()
    try:
        if delivery.endpoint is not None and not delivery.endpoint.enabled:
            raise DeliveryError("The endpoint is disabled: enable it, then recover what "
                                "failed meanwhile.", permanent=True)
        status_code = sender_for(delivery).send(delivery)
    except DeliveryError as error:
        _record_failure(delivery, error, started_at, time.monotonic() - started)
    except Exception as error:
        log.exception("delivery %s: unexpected error", delivery_id)
        _record_failure(delivery, DeliveryError(f"Unexpected error: {error}", permanent=False),
                        started_at, time.monotonic() - started)
    else:
        _record_success(delivery, status_code, started_at, time.monotonic() - started)


# A lease may have run out and the sweeper put the row back to PENDING meanwhile: the
# outcome still counts, and the re-queued task then finds it done.
_IN_FLIGHT = Q(status__in=[DeliveryStatus.SENDING, DeliveryStatus.PENDING])


def _record_success(delivery: Delivery, status_code: int | None, started_at: datetime,
                    duration: float) -> None:
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, started_at=started_at,
                                       duration_ms=int(duration * 1000),
                                       status_code=status_code, succeeded=True)
        Delivery.objects.filter(_IN_FLIGHT, pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None,
            last_status_code=status_code, last_error="", updated_at=now)
        if delivery.endpoint is not None:
            note_endpoint_success(delivery.endpoint)


def _record_failure(delivery: Delivery, error: DeliveryError, started_at: datetime,
                    duration: float) -> None:
    now = timezone.now()
    retry = not error.permanent and delivery.attempts < len(retry_schedule())
    delay = backoff_seconds(delivery.attempts, error.retry_after) if retry else 0.0
    message = str(error)[:ERROR_MAX]
    with transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, started_at=started_at,
                                       duration_ms=int(duration * 1000),
                                       status_code=error.status_code, error=message)
        Delivery.objects.filter(_IN_FLIGHT, pk=delivery.pk).update(
            status=DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
            next_attempt_at=now + timedelta(seconds=delay) if retry else None,
            last_status_code=error.status_code, last_error=message, updated_at=now)
        if delivery.endpoint is not None and delivery.endpoint.enabled:
            note_endpoint_failure(delivery.endpoint, gone=error.gone)
        if retry:
            transaction.on_commit(lambda: enqueue(delivery.pk, countdown=delay))


def _send_again(deliveries: Q) -> list[int]:
    """Put deliveries back to PENDING, due now, with a fresh count of attempts."""
    now = timezone.now()
    # Never one being sent right now (a second sender would race it) or awaiting a digest.
    movable = Delivery.objects.filter(deliveries).exclude(
        status__in=[DeliveryStatus.SENDING, DeliveryStatus.BATCHED])
    ids = list(movable.select_for_update().values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
    transaction.on_commit(lambda: [enqueue(pk) for pk in ids])
    return ids


class NotNow(ValueError):
    """The delivery cannot be sent again at the moment; the text says why."""


def redeliver(delivery: Delivery) -> None:
    """Send one delivery again (same webhook-id), whatever became of it."""
    if delivery.status == DeliveryStatus.SENDING:
        raise NotNow("This delivery is being sent right now.")
    if delivery.status == DeliveryStatus.BATCHED:
        raise NotNow("This email waits for the next digest.")
    with transaction.atomic():
        if not _send_again(Q(pk=delivery.pk)):
            raise NotNow("This delivery is being sent right now.")


def recover_failed(endpoint: WebhookEndpoint, since: datetime) -> int:
    """Send again every delivery to the endpoint that failed, created since `since`."""
    with transaction.atomic():
        return len(_send_again(Q(endpoint=endpoint, status=DeliveryStatus.FAILED,
                                 created_at__gte=since)))


def send_test_event(endpoint: WebhookEndpoint) -> Delivery:
    """Queue a made-up event to the endpoint, through the same path as real ones."""
    with transaction.atomic():
        delivery = Delivery.objects.create(user=endpoint.user, channel=Channel.WEBHOOK,
                                           endpoint=endpoint, next_attempt_at=timezone.now())
        transaction.on_commit(lambda: enqueue(delivery.pk))
    return delivery


def sweep_lost_deliveries() -> int:
    """Re-queue deliveries whose task was lost; answers how many."""
    now = timezone.now()
    stale = now - sweep_grace()
    lost = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING],
             next_attempt_at__lte=stale, updated_at__lte=stale)
    ids = list(Delivery.objects.filter(lost).order_by("next_attempt_at")
               .values_list("pk", flat=True)[:SWEEP_BATCH])
    if not ids:
        return 0
    # A SENDING row here is one whose worker died: its lease ran out long ago.
    Delivery.objects.filter(lost, pk__in=ids).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)
    for delivery_id in ids:
        enqueue(delivery_id)
    log.warning("re-queued %d deliveries whose task was lost", len(ids))
    return len(ids)


def send_due_digests() -> int:
    """Send each user whose digest window has passed one email of their batched ones."""
    now = timezone.now()
    oldest = dict(Delivery.objects.filter(status=DeliveryStatus.BATCHED)
                  .values("user_id").annotate(first=Min("created_at"))
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
        if not batch:
            return 0
        started_at, started = timezone.now(), time.monotonic()
        error = ""
        try:
            send_digest_email(user, [d.notification for d in batch])
        except Exception as failure:
            log.exception("digest email to user %s failed", user_id)
            error = f"Could not send the digest email: {failure}"[:ERROR_MAX]
        duration_ms = int((time.monotonic() - started) * 1000)
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(delivery=d, started_at=started_at, duration_ms=duration_ms,
                            succeeded=not error, error=error) for d in batch)
        ids = [d.pk for d in batch]
        if error:
            given_up = len(retry_schedule()) - 1
            Delivery.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, last_error=error, updated_at=timezone.now())
            Delivery.objects.filter(pk__in=ids, attempts__gt=given_up).update(
                status=DeliveryStatus.FAILED)
            return 0
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.DELIVERED, attempts=F("attempts") + 1,
            delivered_at=timezone.now(), last_error="", updated_at=timezone.now())
    return 1
