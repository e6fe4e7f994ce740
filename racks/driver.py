"""How the console acts on a rack.

A driver performs an operation on the rack it drives. The events the operation causes
reach the console through the pipeline, exactly as a real rack's events come to the
ingest URL. The built-in `LocalRack` plays a rack inside the console; a driver for a
real rack would call the rack's API here and let the rack's own webhook report back.
"""

from typing import Protocol

from racks.models import App, Build, Rack, Release, Resource


class RackError(Exception):
    """The rack refused the operation; the text is for the person who asked."""


class RackDriver(Protocol):
    def create_app(self, rack: Rack, name: str) -> App: ...
    def delete_app(self, app: App) -> None: ...
    def start_build(self, app: App, *, description: str = "", fail: bool = False) -> Build: ...
    def set_env(self, app: App, env: dict[str, str]) -> Release: ...
    def promote(self, release: Release) -> None: ...
    def scale(self, app: App, process: str, count: int) -> None: ...
    def create_resource(self, rack: Rack, name: str, type: str) -> Resource: ...
    def delete_resource(self, resource: Resource) -> None: ...
    def update_rack(self, rack: Rack, *, version: str | None = None, count: int | None = None,
                    instance_type: str | None = None) -> None: ...


def driver_for(rack: Rack) -> RackDriver:
    from racks.local import LocalRack

    drivers: dict[str, type] = {"local": LocalRack}
    return drivers.get(rack.driver, LocalRack)()
