"""How long the console keeps what it records, and the pruning that enforces it.

Notifications (with their feed entries and deliveries) are kept for
NOTIFICATION_RETENTION_DAYS; finished deliveries and their attempt logs for
DELIVERY_LOG_RETENTION_DAYS. A notification with a delivery still on its way is kept
whatever its age. Pruning goes in small batches, each its own short transaction, so no
lock is held for long and ingest goes on meanwhile.

A pruned notification's dedupe keys go with it: an event replayed after the retention
window is stored again.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, FeedEntry, Notification

log = logging.getLogger(__name__)

UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.BATCHED)
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


def notifications_since() -> datetime:
    """The oldest moment the feed still reaches back to."""
    return timezone.now() - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)


def _prune_notification_batch(cutoff: datetime, batch: int) -> int:
    unfinished = Delivery.objects.filter(notification=OuterRef("pk"), status__in=UNFINISHED)
    with transaction.atomic():
        ids = list(Notification.objects
                   .filter(created_at__lt=cutoff)
                   .exclude(Exists(unfinished))
                   .order_by("created_at", "id")
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            return 0
        # Children first, each one statement: Django's cascade would load every child row
        # into Python before deleting it.
        DeliveryAttempt.objects.filter(delivery__notification_id__in=ids).delete()
        Delivery.objects.filter(notification_id__in=ids).delete()
        FeedEntry.objects.filter(notification_id__in=ids).delete()
        Notification.objects.filter(pk__in=ids).delete()
    return len(ids)


def _prune_delivery_batch(cutoff: datetime, batch: int) -> int:
    with transaction.atomic():
        ids = list(Delivery.objects
                   .filter(status__in=FINISHED, created_at__lt=cutoff)
                   .order_by("created_at", "id").values_list("pk", flat=True)[:batch])
        if not ids:
            return 0
        DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
        Delivery.objects.filter(pk__in=ids).delete()
    return len(ids)


def prune(*, seconds: float | None = None) -> dict[str, int]:
    """Delete what is past its retention, a batch at a time, for at most `seconds` (the
    next run goes on where this one stopped). Answers how many rows of each kind went."""
    budget = settings.RETENTION_PRUNE_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + budget
    batch = settings.RETENTION_BATCH_SIZE
    now = timezone.now()
    done = {"notifications": 0, "deliveries": 0}
    steps = (("notifications", _prune_notification_batch, notifications_since()),
             ("deliveries", _prune_delivery_batch,
              now - timedelta(days=settings.DELIVERY_LOG_RETENTION_DAYS)))
    for kind, prune_batch, cutoff in steps:
        while time.monotonic() < deadline:
            pruned = prune_batch(cutoff, batch)
            done[kind] += pruned
            if pruned < batch:
                break
    if any(done.values()):
        log.info("retention pruned %(notifications)d notifications and %(deliveries)d "
                 "deliveries", done)
    return done
