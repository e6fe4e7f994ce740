"""The URL converters of the console's paths, registered once, when this module is imported.

Every urls module that names one of them imports this module, so the registration does
not depend on which urls module Django reads first.
"""

from django.urls import register_converter

from console.bounds import ID_PATTERN
from racks.intake.view import TOKEN_PATTERN


class _Pattern:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class IdConverter:
    """A database id: `<id:rack_id>`. Django's `int` takes any number of digits, and a
    number past what the column holds answered 500 instead of 404."""

    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


class NameConverter(_Pattern):
    regex = r"[a-z][a-z0-9-]{0,62}"  # app, resource and process names (racks.models.NAME_RE)


class BuildIdConverter(_Pattern):
    regex = r"B[A-Z]{10}"


class ReleaseIdConverter(_Pattern):
    regex = r"R[A-Z]{10}"


class UsernameConverter(_Pattern):
    regex = r"[\w.@+-]{1,150}"


class TokenIdConverter(_Pattern):
    regex = r"[0-9a-f]{16}"


class IngestTokenConverter(_Pattern):
    regex = TOKEN_PATTERN


for name, converter in (("id", IdConverter), ("name", NameConverter), ("build", BuildIdConverter),
                        ("release", ReleaseIdConverter), ("username", UsernameConverter),
                        ("tokenid", TokenIdConverter), ("ingest", IngestTokenConverter)):
    register_converter(converter, name)
