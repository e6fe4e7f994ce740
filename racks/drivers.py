"""Which driver acts on a rack: the built-in local rack or a real Convox rack.

What a driver is, and the checks every driver makes, are in racks.driver.
"""

from racks.convox import ConvoxRack
from racks.driver import RackDriver
from racks.local import LocalRack
from racks.models import Rack

DRIVERS: dict[str, type[RackDriver]] = {"local": LocalRack, "convox": ConvoxRack}


def driver_for(rack: Rack) -> RackDriver:
    return DRIVERS.get(rack.driver, LocalRack)()
