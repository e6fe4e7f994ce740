"""The life of a delivery: queued after commit, attempted, retried, logged, recovered.

A delivery row is written in its notification's transaction (recipients.py), so the row,
not the broker message, is the truth: a task only says "look at deliveries N, M now".
A task first claims its rows, and other due ones up to a batch (PENDING -> SENDING, with
a lease in `next_attempt_at`), in one short transaction, so a stale or duplicated task
finds nothing to do, and a delivered row is never sent again. The batch is sent at once
(batch.py), then every attempt is logged and every row settled in one transaction. The
sweeper re-queues rows whose task was lost (still due a while after they should have
been claimed, or a lease that ran out because a worker died). A failed email digest backs
off on the same retry schedule: its BATCHED rows keep the time of its next try in
`next_attempt_at`, which neither the claim nor the sweeper reads (they take PENDING and
SENDING rows only).
"""

import logging
import random
from collections import defaultdict
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from console import rate_limit
from console.metrics import DELIVERIES
from notifications.catalogue import Channel
from notifications.delivery.batch import EMAILS_PER_CONNECTION, Outcome, send_batch
from notifications.delivery.endpoints import note_endpoint_failure, note_endpoint_success
from notifications.delivery.senders import DeliveryError
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

# Queued by name: the task module imports this one.
DELIVER_TASK = "notifications.delivery.tasks.deliver_batch"

JITTER = 0.1
# A task may arrive a little before the row is due (clocks, countdown rounding).
EARLY_TOLERANCE = timedelta(seconds=1)
SWEEP_BATCH = 1000
ERROR_MAX = 2000


def sweep_grace() -> timedelta:
    return timedelta(seconds=settings.DELIVERY_SWEEP_GRACE_SECONDS)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS
                     + settings.DELIVERY_LEASE_MARGIN_SECONDS)


def email_lease() -> timedelta:
    """An email batch's connection carries its messages one after the other."""
    return timedelta(seconds=settings.EMAIL_TIMEOUT * EMAILS_PER_CONNECTION
                     + settings.DELIVERY_LEASE_MARGIN_SECONDS)


def backoff_seconds(attempts_done: int, retry_after: float | None = None) -> float:
    """The wait before the next attempt, with jitter; a receiver's Retry-After counts."""
    schedule = settings.DELIVERY_RETRY_SCHEDULE
    delay = schedule[attempts_done] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(schedule)))
    return delay


def next_try(attempts_done: int, error: DeliveryError) -> float | None:
    """Seconds to wait before trying a failed delivery again; None: it has failed for good
    (refused for good, or as many attempts made as the schedule has entries)."""
    if error.permanent or attempts_done >= len(settings.DELIVERY_RETRY_SCHEDULE):
        return None
    return backoff_seconds(attempts_done, error.retry_after)


def batch_size() -> int:
    """Deliveries one task claims and sends at once (webhooks all concurrently)."""
    return settings.DELIVERY_BATCH_SIZE


def _batches(ids: list[int]) -> list[list[int]]:
    size = batch_size()
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def enqueue(delivery_ids: list[int], countdown: float = 0) -> None:
    """Ask a worker to attempt the deliveries; a lost message is the sweeper's to find."""
    for ids in _batches(list(delivery_ids)):
        try:
            current_app.send_task(DELIVER_TASK, args=[ids], countdown=countdown or None)
        except Exception:
            log.exception("queueing deliveries %s failed; the sweeper will re-queue them",
                          ids)


def _claim(delivery_ids: list[int]) -> list[Delivery]:
    """Take the given deliveries that are due, and other due ones up to a batch.

    In one short transaction the rows are locked and marked SENDING with a lease, so a
    stale or twin task finds nothing left to do. The task's own rows come first; other
    due rows fill the batch, so a busy outbox goes out in batches even when each task
    names one delivery (their own tasks then find them taken). Rows another worker is
    claiming at that moment are skipped, not waited for.
    """
    now = timezone.now()
    own = Q(pk__in=delivery_ids)
    due = Q(next_attempt_at__lte=now) | (own & Q(next_attempt_at__lte=now + EARLY_TOLERANCE))
    with transaction.atomic():
        ids = list(Delivery.objects.select_for_update(skip_locked=True)
                   .filter(due, status=DeliveryStatus.PENDING)
                   .order_by(Case(When(own, then=0), default=1), "next_attempt_at")
                   .values_list("pk", flat=True)[:max(batch_size(), len(delivery_ids))])
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=now,
            next_attempt_at=Case(When(channel=Channel.EMAIL, then=now + email_lease()),
                                 default=now + lease_length()))
    if not ids:
        return []
    return list(Delivery.objects.select_related("notification__rack", "endpoint__user", "user")
                .filter(pk__in=ids))


def attempt_deliveries(delivery_ids: list[int]) -> int:
    """Try each due delivery once (and more due ones, see _claim); answers how many."""
    claimed = _claim(delivery_ids)
    if claimed:
        _record(send_batch(claimed))
    return len(claimed)


# A lease may have run out and the sweeper put the row back to PENDING meanwhile: the
# outcome still counts, and the re-queued task then finds it done.
_IN_FLIGHT = Q(status__in=[DeliveryStatus.SENDING, DeliveryStatus.PENDING])


def _record(outcomes: list[Outcome]) -> None:
    """Log every attempt and settle every delivery of a batch, in one transaction."""
    now = timezone.now()
    attempts: list[DeliveryAttempt] = []
    delivered: dict[int | None, list[int]] = defaultdict(list)
    unsettled: list[Delivery] = []
    retries: list[tuple[int, float]] = []
    counted: list[tuple[str, str]] = []  # (channel, outcome) for the metrics
    for outcome in outcomes:
        delivery, error = outcome.delivery, outcome.error
        message = str(error)[:ERROR_MAX] if error else ""
        attempts.append(DeliveryAttempt(
            delivery=delivery, started_at=outcome.started_at,
            duration_ms=int(outcome.duration * 1000), succeeded=error is None,
            status_code=error.status_code if error else outcome.status_code, error=message,
            request_body=outcome.exchange.request_body,
            response_body=outcome.exchange.response_body))
        if error is None:
            delivered[outcome.status_code].append(delivery.pk)
            counted.append((delivery.channel, "delivered"))
            continue
        delay = next_try(delivery.attempts_since_resend, error)
        retry = delay is not None
        counted.append((delivery.channel, "retry" if retry else "failed"))
        delivery.status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        delivery.next_attempt_at = now + timedelta(seconds=delay) if retry else None
        delivery.last_status_code, delivery.last_error = error.status_code, message
        delivery.updated_at = now
        unsettled.append(delivery)
        if retry:
            retries.append((delivery.pk, delay))
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        for status_code, ids in delivered.items():
            Delivery.objects.filter(_IN_FLIGHT, pk__in=ids).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None,
                last_status_code=status_code, last_error="", updated_at=now)
        if unsettled:
            Delivery.objects.filter(_IN_FLIGHT).bulk_update(
                unsettled, ["status", "next_attempt_at", "last_status_code", "last_error",
                            "updated_at"])
        _note_endpoints(outcomes)
        if retries:
            transaction.on_commit(lambda: _enqueue_retries(retries))
    for (channel, result), outcome in zip(counted, outcomes, strict=True):
        DELIVERIES.labels(channel, result).inc()
        log.info("delivery %s by %s %s after %d ms", outcome.delivery.webhook_id, channel,
                 result, int(outcome.duration * 1000),
                 extra={"notification_id": outcome.delivery.notification_id})


def _enqueue_retries(retries: list[tuple[int, float]]) -> None:
    """Each retry is its own task, due when its own backoff (with jitter) ends."""
    for delivery_id, delay in retries:
        enqueue([delivery_id], countdown=delay)


def _note_endpoints(outcomes: list[Outcome]) -> None:
    """What a batch says of each endpoint: a 410 ends it, a success clears its failing."""
    seen: dict[int, tuple[WebhookEndpoint, list[Outcome]]] = {}
    for outcome in outcomes:
        endpoint = outcome.delivery.endpoint
        if endpoint is not None:
            seen.setdefault(endpoint.pk, (endpoint, []))[1].append(outcome)
    for endpoint, its in seen.values():
        errors = [o.error for o in its if o.error is not None]
        if any(error.gone for error in errors) and endpoint.enabled:
            note_endpoint_failure(endpoint, gone=True)
        elif len(errors) < len(its):
            note_endpoint_success(endpoint)
        elif endpoint.enabled:
            note_endpoint_failure(endpoint, gone=False)


def _send_again(deliveries: Q) -> list[int]:
    """Put deliveries back to PENDING, due now, with the retry schedule started over.

    `attempts` keeps counting (the page and the API show it beside the log of every
    attempt); the schedule counts from here on (Delivery.attempts_since_resend).
    """
    now = timezone.now()
    # Never one being sent right now (a second sender would race it) or awaiting a digest.
    movable = Delivery.objects.filter(deliveries).exclude(
        status__in=[DeliveryStatus.SENDING, DeliveryStatus.BATCHED])
    ids = list(movable.select_for_update().values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts_before_resend=F("attempts"),
        next_attempt_at=now, updated_at=now)
    transaction.on_commit(lambda: enqueue(ids))
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


class TooManyTestSends(Exception):
    """Test events are asked for faster than a person would; `retry_after` is when the
    next may go, in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def send_test_event(endpoint: WebhookEndpoint) -> Delivery:
    """Queue a made-up event to the endpoint, through the same path as real ones.

    A test is a request to a URL of the user's choosing at the press of a button: it is
    throttled per endpoint and per user (DEFAULT_THROTTLE_RATES "webhook_test" and
    "webhook_test_user"), so the console cannot be used to scan hosts; raises
    TooManyTestSends past either.
    """
    for scope, subject, whose in (("webhook_test", endpoint.pk, "this webhook"),
                                  ("webhook_test_user", endpoint.user_id, "your webhooks")):
        wait = rate_limit.seconds_until_allowed(scope, str(subject))
        if wait:
            raise TooManyTestSends(f"Test events to {whose} are limited to "
                               f"{rate_limit.describe(scope)}; try again in {wait} s.", wait)
    with transaction.atomic():
        delivery = Delivery.objects.create(user=endpoint.user, channel=Channel.WEBHOOK,
                                           endpoint=endpoint, next_attempt_at=timezone.now())
        transaction.on_commit(lambda: enqueue([delivery.pk]))
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
    enqueue(ids)
    log.warning("re-queued %d deliveries whose task was lost", len(ids))
    return len(ids)
