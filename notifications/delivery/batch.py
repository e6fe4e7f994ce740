"""Sending a claimed batch of deliveries at once, each with its own outcome.

Webhooks go out concurrently on one event loop through one outbound Client (a host
name resolved once per batch, each request on its own connection to a checked address), each
endpoint's secrets decrypted once. Emails go over one mail connection per
EMAILS_PER_CONNECTION messages, those connections side by side in threads. One failing
receiver changes nothing for the others: every delivery gets its own Outcome.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from console.outbound.client import Client
from notifications.catalogue import Channel
from notifications.delivery.senders import (
    WEBHOOK_SENDERS,
    DeliveryError,
    EmailSender,
    Exchange,
)
from notifications.delivery.signing import Signer, signer_for
from notifications.models import Delivery

log = logging.getLogger(__name__)

# Sent one after the other on one connection, so they bound an email's lease (outbox.py).
EMAILS_PER_CONNECTION = 10


@dataclass
class Outcome:
    """One attempt of one delivery: delivered (`error` None) or not, and why."""

    delivery: Delivery
    started_at: datetime
    duration: float
    status_code: int | None = None
    error: DeliveryError | None = None
    # A webhook's bodies, as the delivery log keeps them (an email has none).
    exchange: Exchange = field(default_factory=Exchange)


class _Clock:
    def __init__(self) -> None:
        self.started_at, self._started = timezone.now(), time.monotonic()

    def outcome(self, delivery: Delivery, status_code: int | None = None,
                error: DeliveryError | None = None,
                exchange: Exchange | None = None) -> Outcome:
        return Outcome(delivery, self.started_at, time.monotonic() - self._started,
                       status_code, error, exchange or Exchange())


def _unexpected(delivery: Delivery, error: Exception) -> DeliveryError:
    log.exception("delivery %s: unexpected error", delivery.pk)
    return DeliveryError(f"Unexpected error: {error}", permanent=False)


def send_batch(deliveries: list[Delivery]) -> list[Outcome]:
    """Attempt every delivery of the batch once, all at the same time."""
    webhooks = [d for d in deliveries if d.channel == Channel.WEBHOOK]
    emails = [d for d in deliveries if d.channel == Channel.EMAIL]
    chunks = [emails[i:i + EMAILS_PER_CONNECTION]
              for i in range(0, len(emails), EMAILS_PER_CONNECTION)]
    if not webhooks and len(chunks) <= 1:
        return send_emails(emails)
    return asyncio.run(_send_side_by_side(webhooks, chunks))


async def _send_side_by_side(webhooks: list[Delivery],
                             chunks: list[list[Delivery]]) -> list[Outcome]:
    # Threads of their own: the loop's default ones resolve the webhooks' host names.
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=max(1, len(chunks))) as threads:
        parts = await asyncio.gather(
            send_webhooks(webhooks),
            *(loop.run_in_executor(threads, send_emails, chunk) for chunk in chunks))
    return [outcome for part in parts for outcome in part]


async def send_webhooks(deliveries: list[Delivery]) -> list[Outcome]:
    client = Client()
    signers: dict[int, Signer] = {}
    return list(await asyncio.gather(
        *(_send_webhook(delivery, client, signers) for delivery in deliveries)))


async def _send_webhook(delivery: Delivery, client: Client,
                        signers: dict[int, Signer]) -> Outcome:
    clock = _Clock()
    endpoint = delivery.endpoint
    exchange = Exchange()
    try:
        if not endpoint.enabled:
            raise DeliveryError("The endpoint is disabled: enable it, then recover what "
                                "failed meanwhile.", permanent=True)
        if endpoint.pk not in signers:
            signers[endpoint.pk] = signer_for(endpoint)
        sender = WEBHOOK_SENDERS[endpoint.format]()
        status_code = await sender.send(delivery, client, signers[endpoint.pk], exchange)
    except DeliveryError as error:
        return clock.outcome(delivery, error=error, exchange=exchange)
    except Exception as error:
        return clock.outcome(delivery, error=_unexpected(delivery, error), exchange=exchange)
    return clock.outcome(delivery, status_code, exchange=exchange)


def send_emails(deliveries: list[Delivery]) -> list[Outcome]:
    """Send the emails one after the other over one mail connection."""
    outcomes: list[Outcome] = []
    if not deliveries:
        return outcomes
    sender = EmailSender()
    try:
        for delivery in deliveries:
            clock = _Clock()
            try:
                sender.send(delivery)
            except DeliveryError as error:
                outcomes.append(clock.outcome(delivery, error=error))
            except Exception as error:
                outcomes.append(clock.outcome(delivery, error=_unexpected(delivery, error)))
            else:
                outcomes.append(clock.outcome(delivery))
    finally:
        sender.close()
    return outcomes
