"""What the console's racks tell the rest of the console.

Their events go through the notifications pipeline (`emit`), the one way `racks` reaches
into `notifications` besides the intake and membership; a build's progress is announced
with the `build_changed` signal, and a change of an app's status or formation with
`app_changed` (racks.signals), which the live feed listens to.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from django.utils import timezone

from notifications.envelope import Envelope
from notifications.models import Source
from notifications.pipeline import Recorded, record_event
from racks.models import App, Build, Rack
from racks.signals import app_changed, build_changed

# Who is acting: a request's user (console.middleware.ActingUser sets it once per
# request), or the user who started the work a Celery task finishes (`acting_as`).
# A context variable rather than an `actor` argument: every action reaches `emit` through
# a driver (racks.driver), called by the pages, the API and the admin alike, and the
# driver's operations, like a real rack's, have no reader of their own; threading a user
# through each of them and each caller would change every signature to carry one name
# that only `emit` reads. The request's user is read when `emit` runs, so an API token's
# user (which DRF authenticates inside the view) counts as well as a session's.
_acting: ContextVar[Callable[[], str]] = ContextVar("acting", default=lambda: "")


def acting_user() -> str:
    """The username of whoever the work in hand is for, "" when nobody (beat, a rack)."""
    return _acting.get()()


@contextmanager
def acting_for(who: Callable[[], str]) -> Iterator[None]:
    """Emit what is done inside as caused by `who()` (read when an event is emitted)."""
    token = _acting.set(who)
    try:
        yield
    finally:
        _acting.reset(token)


def acting_as(username: str) -> AbstractContextManager[None]:
    """Emit what is done inside as caused by this user (a task finishing their work)."""
    return acting_for(lambda: username)


def emit(rack: Rack, action: str, data: dict[str, str], status: str = "success",
         *, once_as: str | None = None) -> Recorded:
    """Report an event the console caused on a rack, as the rack's webhook would: a v3
    rack names its actor in `data.actor`, and so does the console (the acting user).

    `once_as` names an event that must be stored once even if its task runs twice.
    """
    actor = acting_user()
    envelope = Envelope(action=action, status=status,
                        data={"rack": rack.name, **data, **({"actor": actor} if actor else {})},
                        timestamp=timezone.now())
    return record_event(rack, envelope, idempotency_key=f"console:{once_as or uuid.uuid4()}",
                        source=Source.CONSOLE)


def build_progressed(build: Build, appended_logs: str = "") -> None:
    """Tell whoever watches the build (its page, its app's page) how it goes."""
    build_changed.send(sender=Build, build=build, appended_logs=appended_logs)


def app_progressed(app: App) -> None:
    """Tell the pages that show an app that its status or formation changed."""
    app_changed.send(sender=App, app=app)
