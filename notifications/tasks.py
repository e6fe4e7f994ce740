"""Periodic upkeep of what notifications leave behind (Celery beat)."""

from celery import shared_task

from notifications import retention


@shared_task(acks_late=True, ignore_result=True)
def prune_old_records() -> dict[str, int]:
    """Delete notifications and delivery logs past their retention (a bounded run)."""
    return retention.prune()
