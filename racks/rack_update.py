"""What a rack update may ask for: one rule for the API (racks.serializers) and the rack
page's form (console.forms), so the page takes nothing the API refuses."""

import re

from django.core.exceptions import ValidationError

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
