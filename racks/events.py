"""What the console's racks tell the rest of the console.

Their events go through the notifications pipeline (`emit`), the one way `racks` reaches
into `notifications` besides the intake and membership; a build's progress is announced
with the `build_changed` signal, and a change of an app's status or formation with
`app_changed` (racks.signals), which the live feed listens to.
"""

import uuid

from django.utils import timezone

from notifications.envelope import Envelope
from notifications.models import Source
from notifications.pipeline import Recorded, record_event
from racks.models import App, Build, Rack
from racks.signals import app_changed, build_changed


def emit(rack: Rack, action: str, data: dict[str, str], status: str = "success",
         *, once_as: str | None = None) -> Recorded:
    """Report an event the console caused on a rack, as the rack's webhook would.

    `once_as` names an event that must be stored once even if its task runs twice.
    """
    envelope = Envelope(action=action, status=status, data={"rack": rack.name, **data},
                        timestamp=timezone.now())
    return record_event(rack, envelope, idempotency_key=f"console:{once_as or uuid.uuid4()}",
                        source=Source.CONSOLE)


def build_progressed(build: Build, appended_logs: str = "") -> None:
    """Tell whoever watches the build (its page, its app's page) how it goes."""
    build_changed.send(sender=Build, build=build, appended_logs=appended_logs)


def app_progressed(app: App) -> None:
    """Tell the pages that show an app that its status or formation changed."""
    app_changed.send(sender=App, app=app)
