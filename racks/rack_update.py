"""What a rack update may ask for: one rule for the API (racks.serializers) and the rack
page's form (console.forms), so the page takes nothing the API refuses; and what an update
changes, one rule for both drivers, so an update that changes nothing is refused."""

import re

from django.core.exceptions import ValidationError

from racks.driver import RackError
from racks.models import Rack

VERSION_MAX = 40
INSTANCE_TYPE_MAX = 40
# Convox versions read like 20240105143000 or 3.18.1; nothing else belongs in one.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Cloud instance types: t3.small, m5d.2xlarge, n2-standard-4, Standard_D2s_v3.
_INSTANCE_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def validate_version(value: str) -> None:
    if not _VERSION.match(value) or len(value) > VERSION_MAX:
        raise ValidationError(f"A version is letters, digits, dots and dashes, at most "
                              f"{VERSION_MAX} characters, e.g. 20240105143000.")


def validate_instance_type(value: str) -> None:
    if not _INSTANCE_TYPE.match(value) or len(value) > INSTANCE_TYPE_MAX:
        raise ValidationError(f"An instance type is letters, digits, dots and dashes, at "
                              f"most {INSTANCE_TYPE_MAX} characters, e.g. t3.small.")


NOTHING_TO_UPDATE = ("Nothing to update: the version, count and instance type are what "
                     "the rack has.")


def changes_asked(rack: Rack, *, version: str | None = None, count: int | None = None,
                  instance_type: str | None = None) -> dict[str, str | int]:
    """What of an update differs from what the rack has, by the rack API's names
    (version, count, type); RackError when nothing does, for both drivers. The page's form
    comes filled with the rack's values, so sending it unchanged must not read as an
    update asked for."""
    changed: dict[str, str | int] = {}
    if version is not None and version != rack.version:
        changed["version"] = version
    if count is not None and count != rack.instance_count:
        changed["count"] = count
    if instance_type is not None and instance_type != rack.instance_type:
        changed["type"] = instance_type
    if not changed:
        raise RackError(NOTHING_TO_UPDATE)
    return changed
