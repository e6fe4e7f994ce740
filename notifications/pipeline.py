"""The one path from a rack event to a stored notification and what follows it.

Events from a rack's ingest URL and events the console's own actions cause both come
through `record_event`. After the transaction commits, `notification_committed` runs:
that is where the live push and deliveries hang.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from console import tracing
from console.metrics import NOTIFICATIONS_STORED
from notifications.catalogue import event_type_for, render_message
from notifications.delivery import outbox
from notifications.envelope import Envelope
from notifications.live.push import broadcast_notification
from notifications.models import ACTOR_MAX_LENGTH, Notification, Source
from notifications.recipients import Addressed, address_notification
from racks.models import Rack
from racks.text import without_bidi_controls

log = logging.getLogger(__name__)

# Without a timestamp the event's content is all there is to tell a retry from a new
# event: identical content within this window is taken as the same event.
UNDATED_DEDUPE_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class Recorded:
    notification: Notification
    duplicate: bool


def dedupe_key(envelope: Envelope, idempotency_key: str | None, received: datetime) -> str:
    if idempotency_key:
        return "key:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:64]
    when = (envelope.timestamp.isoformat() if envelope.timestamp
            else f"undated:{int(received.timestamp()) // UNDATED_DEDUPE_WINDOW_SECONDS}")
    content = json.dumps([envelope.action, envelope.status, envelope.data, when],
                         sort_keys=True, separators=(",", ":"))
    return "sha:" + hashlib.sha256(content.encode()).hexdigest()[:64]


def record_event(
    rack: Rack,
    envelope: Envelope,
    *,
    idempotency_key: str | None = None,
    signature_key: str = "",
    source: Source = Source.RACK,
) -> Recorded:
    """Store the event once and address it to its readers.

    An event is a duplicate of a stored one with its dedupe key (the Idempotency-Key,
    else the content) or, for a signed request, its `signature_key`
    (racks.intake.signature.signed_identity): a replay is the same event whatever its
    Idempotency-Key says. Safe to call concurrently with the same event: exactly one call
    stores it and the others answer `duplicate=True` with the stored notification.
    """
    received = timezone.now()
    key = dedupe_key(envelope, idempotency_key, received)
    data = dict(envelope.data)
    data.setdefault("rack", rack.name)
    kind = event_type_for(envelope.action, envelope.status)
    notification = Notification(
        rack=rack, app=envelope.app[:100], action=envelope.action, status=envelope.status,
        event_type=kind.key, severity=kind.severity, data=data,
        message=render_message(rack.name, envelope.action, envelope.status, envelope.data),
        source=source, actor=actor_of(envelope), dedupe_key=key, signature_key=signature_key,
        occurred_at=envelope.timestamp or received,
    )
    with transaction.atomic():
        if not store_once(notification):
            return Recorded(_stored_as(rack, key, signature_key), duplicate=True)
        addressed = address_notification(notification)
        transaction.on_commit(lambda: notification_committed(notification, addressed))
    tracing.about(notification=notification.pk, rack=rack.pk)
    NOTIFICATIONS_STORED.labels(source).inc()
    log.info("%s stored as notification %s for %d readers", envelope.action,
             notification.pk, len(addressed.readers))
    return Recorded(notification, duplicate=False)


def actor_of(envelope: Envelope) -> str:
    """The envelope's actor, as a name is shown: without bidirectional controls (one
    would reverse the text around it), trimmed, cut to the column."""
    actor = envelope.actor if isinstance(envelope.actor, str) else ""
    return without_bidi_controls(actor).strip()[:ACTOR_MAX_LENGTH]


def _stored_as(rack: Rack, key: str, signature_key: str) -> Notification:
    """The stored notification an event duplicates: the one with its signature first (a
    replay's Idempotency-Key may name another event), else the one with its dedupe key."""
    if signature_key:
        replayed = Notification.objects.filter(rack=rack, signature_key=signature_key).first()
        if replayed is not None:
            return replayed
    return Notification.objects.get(rack=rack, dedupe_key=key)


def store_once(notification: Notification) -> bool:
    """Insert the notification unless its rack already has one with its dedupe key or its
    signature key (notification_once_per_event, notification_once_per_signature).

    Two transactions inserting the same key at once: the second waits for the first to
    end, then fails on the unique key (it committed) or inserts (it rolled back), so
    exactly one stores it, and the losers read the winner's row in their next statement.
    The savepoint keeps the caller's transaction usable after a duplicate.
    """
    try:
        with transaction.atomic():
            notification.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def notification_committed(notification: Notification, addressed: Addressed) -> None:
    """Everything that follows a notification once it is safely stored: the live push to
    the users whose feed holds it, and the tasks of its pending deliveries. Both take
    what the transaction wrote, so nothing is read back."""
    broadcast_notification(notification, addressed.readers)
    outbox.enqueue(addressed.pending)
