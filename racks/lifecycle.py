"""A rack's life in the console: added to an organization, its settings changed, deleted.

Connecting a real rack (racks.connect) ends in the same delete; who may do each of these
is the views' question (racks.permissions).
"""

from django.db import IntegrityError, transaction

from racks.caps import CapReached, check_room
from racks.models import Capped, Organization, Rack


class RackRefused(Exception):
    """The rack cannot be added as asked; the text says why, for the person asking."""


def create_rack(organization: Organization, name: str) -> Rack:
    """A new local rack of the organization, within its cap of racks."""
    try:
        with transaction.atomic():
            check_room(organization, Capped.RACKS)
            return Rack.objects.create(organization=organization, name=name)
    except CapReached as refused:
        raise RackRefused(str(refused)) from None
    except IntegrityError:
        raise RackRefused(
            f"A rack named {name} already exists in {organization.name}.") from None


def set_webhook_signing_key(rack: Rack, value: str) -> None:
    """Store the rack's signing keys (already checked by validate_signing_keys)."""
    rack.webhook_signing_key = value
    rack.save(update_fields=["webhook_signing_key"])


def delete_rack(rack: Rack) -> None:
    """The rack goes, with its apps, resources and notifications."""
    rack.delete()
