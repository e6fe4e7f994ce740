"""A real rack's event, received: stored once through the pipeline and applied to the
modelled rack, in one transaction.

Only the intake applies events to the model: the console's own actions (racks.local,
racks.convox) and the sync (racks.sync) make their changes themselves before they report
them.
"""

from django.db import transaction

from notifications.envelope import Envelope
from notifications.pipeline import Recorded, record_event
from racks.intake.state import apply_event
from racks.models import Rack


def receive_event(rack: Rack, envelope: Envelope, *, idempotency_key: str | None = None,
                  signature_key: str = "") -> Recorded:
    """Record the rack's event and, unless it is a duplicate, update the modelled rack.

    One transaction: a change the model cannot take rolls the notification back with it,
    and the live push and deliveries start only once both are committed.
    """
    with transaction.atomic():
        recorded = record_event(rack, envelope, idempotency_key=idempotency_key,
                                signature_key=signature_key)
        if not recorded.duplicate:
            apply_event(rack, envelope)
    return recorded
