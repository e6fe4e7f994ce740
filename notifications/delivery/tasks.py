"""The Celery tasks of delivery: each takes primary keys only and is safe to run twice."""

from celery import shared_task

from console import health
from notifications.delivery import digests, outbox


@shared_task(acks_late=True, ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> int:
    """Attempt these deliveries (and other due ones, up to a batch) at once."""
    return outbox.attempt_deliveries(delivery_ids)


@shared_task(acks_late=True, ignore_result=True)
def sweep_deliveries() -> int:
    """Periodic (Celery beat): re-queue deliveries whose broker message was lost."""
    requeued = outbox.sweep_lost_deliveries()
    health.record_sweep()
    return requeued


@shared_task(acks_late=True, ignore_result=True)
def send_digests() -> int:
    """Periodic (Celery beat): send the email digests whose window has passed."""
    return digests.send_due_digests()
