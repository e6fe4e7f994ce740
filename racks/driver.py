"""How the console acts on a rack.

A driver performs an operation on the rack it drives. The events the operation causes
reach the console through the pipeline, exactly as a real rack's events come to the
ingest URL. The built-in `LocalRack` plays a rack inside the console; a driver for a
real rack would call the rack's API here and let the rack's own webhook report back.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from racks.caps import CapReached, check_room
from racks.models import NAME_RE, App, Build, Capped, Rack, Release, Resource


class RackError(Exception):
    """The rack refused the operation; the text is for the person who asked.

    `field` names the part of the operation it concerns when it concerns one (name,
    process, count, cpu, memory, env, description, type, version, instance_type), so a
    form shows it beside that field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# How much of an uploaded source is read, and sent on, at a time.
UPLOAD_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Source:
    """An app's source tarball (.tgz) as it arrives, in chunks: an upload the server has
    spooled to a temporary file is forwarded from there, never whole in memory. `size` is
    the length the sender declared, when it did (a request's Content-Length, a form's
    file), so that a source over its cap is refused before a byte goes on."""

    chunks: Iterator[bytes]
    size: int | None = None

    @classmethod
    def of(cls, chunks: Iterable[bytes], size: int | None = None) -> "Source":
        return cls(iter(chunks), size)


class RackDriver(Protocol):
    def create_app(self, rack: Rack, name: str) -> App: ...
    def delete_app(self, app: App) -> None: ...
    # `source` is the app's source tarball (.tgz): a real rack builds from it; the local
    # rack, which builds nothing, ignores it.
    def start_build(self, app: App, *, description: str = "", fail: bool = False,
                    source: Source | None = None) -> Build: ...
    # `based_on`: the release the new environment was edited from (racks.env.check_based_on).
    def set_env(self, app: App, env: dict[str, str], *,
                based_on: str | None = None) -> Release: ...
    # `force` promotes while the app is still updating (after the person confirmed).
    def promote(self, release: Release, *, force: bool = False) -> None: ...
    def scale(self, app: App, process: str, count: int, *, cpu: int | None = None,
              memory: int | None = None) -> None: ...
    def create_resource(self, rack: Rack, name: str, type: str) -> Resource: ...
    def delete_resource(self, resource: Resource) -> None: ...
    def update_rack(self, rack: Rack, *, version: str | None = None, count: int | None = None,
                    instance_type: str | None = None) -> None: ...


def check_name(what: str, name: str, field: str = "name") -> None:
    """Refuse a name the console cannot model, in the words every driver uses."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise RackError(f"{what} name must be lower-case letters, digits and dashes, "
                        "starting with a letter (at most 63 characters).", field=field)


def check_room_on(rack: Rack, kind: Capped) -> None:
    """Lock the rack and refuse one more app or resource past its cap (racks.caps)."""
    try:
        check_room(rack, kind)
    except CapReached as refused:
        raise RackError(str(refused)) from None
