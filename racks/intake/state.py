"""Keeping the console's model of a rack in step with the events it reports.

Every event passes here inside the pipeline's transaction. Each change is idempotent,
so an event the console itself caused (whose change is already made) is a no-op, and a
value the console cannot model (a name too long, an id of another shape) is skipped
rather than refused: the notification must still be stored. So is an app or resource
past the rack's cap (racks.caps): it is noted, not modelled, and the rack shows as over
its cap until the rack reports it deleted.
"""

from collections.abc import Callable

from django.utils import timezone

from notifications.envelope import Envelope
from racks.caps import forget_over_cap, has_room, note_over_cap
from racks.models import (
    NAME_RE,
    RACK_ID_RE,
    App,
    Build,
    BuildStatus,
    Capped,
    Rack,
    Release,
    Resource,
)
from racks.releases import make_release_active


def _app_for(rack: Rack, envelope: Envelope) -> App | None:
    name = envelope.app
    return rack.apps.filter(name=name).first() if name else None


def _app_created(rack: Rack, envelope: Envelope) -> None:
    name = envelope.app
    if not NAME_RE.match(name) or rack.apps.filter(name=name).exists():
        return  # not a name the console models, or made already (by the console itself)
    if has_room(rack, Capped.APPS):
        App.objects.get_or_create(rack=rack, name=name)
    else:
        note_over_cap(rack, Capped.APPS, name)


def _app_deleted(rack: Rack, envelope: Envelope) -> None:
    rack.apps.filter(name=envelope.app).delete()
    forget_over_cap(rack, Capped.APPS, envelope.app)


def _build_ended(rack: Rack, envelope: Envelope) -> None:
    app, build_id = _app_for(rack, envelope), envelope.data.get("id", "")
    if app is None or not RACK_ID_RE.match(build_id) or not build_id.startswith("B"):
        return
    status = BuildStatus.FAILED if envelope.status == "error" else BuildStatus.COMPLETE
    build, created = Build.objects.get_or_create(
        id=build_id, defaults={"app": app, "status": status, "ended_at": timezone.now()}
    )
    if not created and build.app_id == app.pk and build.status != status:
        build.status, build.ended_at = status, build.ended_at or timezone.now()
        build.save(update_fields=["status", "ended_at"])


def _release(rack: Rack, envelope: Envelope) -> Release | None:
    app, release_id = _app_for(rack, envelope), envelope.data.get("id", "")
    if app is None or not RACK_ID_RE.match(release_id) or not release_id.startswith("R"):
        return None
    release, _ = Release.objects.get_or_create(id=release_id, defaults={"app": app})
    return release if release.app_id == app.pk else None


def _release_created(rack: Rack, envelope: Envelope) -> None:
    _release(rack, envelope)


def _release_promoted(rack: Rack, envelope: Envelope) -> None:
    release = _release(rack, envelope)
    if release is not None and not release.active:
        make_release_active(release)


def _resource_created(rack: Rack, envelope: Envelope) -> None:
    name, kind = envelope.data.get("name", ""), envelope.data.get("type", "")
    if not NAME_RE.match(name) or not 0 < len(kind) <= 40 or \
            rack.resources.filter(name=name).exists():
        return
    if has_room(rack, Capped.RESOURCES):
        Resource.objects.get_or_create(rack=rack, name=name, defaults={"type": kind})
    else:
        note_over_cap(rack, Capped.RESOURCES, name)


def _resource_deleted(rack: Rack, envelope: Envelope) -> None:
    name = envelope.data.get("name", "")
    rack.resources.filter(name=name).delete()
    forget_over_cap(rack, Capped.RESOURCES, name)


def _rack_updated(rack: Rack, envelope: Envelope) -> None:
    data, changed = envelope.data, []
    if 0 < len(data.get("version", "")) <= 40 and data["version"] != rack.version:
        rack.version = data["version"]
        changed.append("version")
    count = data.get("count", "")
    if count.isdigit() and int(count) < 10_000 and int(count) != rack.instance_count:
        rack.instance_count = int(count)
        changed.append("instance_count")
    if 0 < len(data.get("type", "")) <= 40 and data["type"] != rack.instance_type:
        rack.instance_type = data["type"]
        changed.append("instance_type")
    if changed:
        rack.save(update_fields=changed)


_CHANGES: dict[tuple[str, str], Callable[[Rack, Envelope], None]] = {
    ("app:create", "success"): _app_created,
    ("app:delete", "success"): _app_deleted,
    ("build:create", "success"): _build_ended,
    ("build:create", "error"): _build_ended,
    ("release:create", "success"): _release_created,
    ("release:promote", "start"): _release_promoted,
    ("release:promote", "success"): _release_promoted,
    ("release:finish", "success"): _release_promoted,
    ("app:promote:completed", "success"): _release_promoted,
    ("resource:create", "success"): _resource_created,
    ("service:create", "success"): _resource_created,
    ("resource:delete", "success"): _resource_deleted,
    ("service:delete", "success"): _resource_deleted,
    ("rack:update", "success"): _rack_updated,
}


def apply_event(rack: Rack, envelope: Envelope) -> None:
    """Bring the modelled rack in line with what the event reports."""
    change = _CHANGES.get((envelope.action, envelope.status))
    if change is not None:
        change(rack, envelope)
