"""The catalogue: the one place that knows every rack event the console names.

Each entry says which action/status pairs it covers, its message (the seed's wording),
its severity, what it means (the seed's explanation, for the settings page and emails),
and whether it notifies by default. Anything not listed still becomes a notification
with a generic line: newer racks add actions, and none may be dropped.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db import models

from racks.text import without_bidi_controls


class Severity(models.TextChoices):
    SUCCESS = "success"
    INFO = "info"
    ERROR = "error"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the console"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


Data = Mapping[str, str]


def _app(data: Data) -> str:
    return data.get("app") or data.get("name") or "?"


def _rack_update(data: Data) -> str:
    parts = []
    if data.get("version"):
        parts.append(f"version {data['version']}")
    if data.get("count"):
        parts.append(f"count {data['count']}")
    if data.get("type"):
        parts.append(f"instance type {data['type']}")
    return "Updating rack to: " + (", ".join(parts) or "new parameters")


@dataclass(frozen=True)
class EventType:
    key: str
    object: str
    title: str
    pairs: tuple[tuple[str, str], ...]
    severity: Severity
    render: Callable[[Data], str]
    meaning: str
    notifies_by_default: bool = True
    default_channels: frozenset[str] = field(default_factory=lambda: frozenset({"in_app"}))


_IN_APP_AND_EMAIL = frozenset({Channel.IN_APP.value, Channel.EMAIL.value})

EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        key="app:create", object="app", title="App created",
        pairs=(("app:create", "success"),), severity=Severity.SUCCESS,
        render=lambda d: f"Created app {_app(d)}",
        meaning="A convox app has been created, as with convox apps create and is ready "
        "to accept deployments.",
    ),
    EventType(
        key="app:delete", object="app", title="App deleted",
        pairs=(("app:delete", "success"),), severity=Severity.INFO,
        render=lambda d: f"Deleted app {_app(d)}",
        meaning="A convox app has been deleted, as with convox apps delete.",
    ),
    EventType(
        key="build:failed", object="build", title="Build failed",
        pairs=(("build:create", "error"),), severity=Severity.ERROR,
        render=lambda d: f"Build {d.get('id', '?')} failed for app {_app(d)}",
        meaning="An app build failed. Run convox builds info <id> to view build logs.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="build:complete", object="build", title="Build completed",
        pairs=(("build:create", "success"),), severity=Severity.SUCCESS,
        render=lambda d: f"Build {d.get('id', '?')} completed for app {_app(d)}",
        meaning="An app build completed and produced a release. Recorded; it notifies "
        "nobody unless they ask for it.",
        notifies_by_default=False, default_channels=frozenset(),
    ),
    EventType(
        key="release:create", object="release", title="Release created",
        pairs=(("release:create", "success"),), severity=Severity.INFO,
        render=lambda d: f"Created release {d.get('id', '?')} for app {_app(d)}",
        meaning="A new release has been created and is ready to be deployed. Releases are "
        "created when new builds complete or when the app’s environment variables are "
        "changed. You can promote a new release with the convox releases promote command.",
    ),
    EventType(
        key="release:deployed", object="release", title="Finished rolling deploy",
        # v3 racks say app:promote:completed where v2 racks say release:promote success.
        pairs=(("release:promote", "success"), ("release:finish", "success"),
               ("app:promote:completed", "success")),
        severity=Severity.SUCCESS,
        render=lambda d: f"Finished rolling deploy of release {d.get('id', '?')} "
        f"for app {_app(d)}",
        meaning="A deployment is totally finished. All of the new processes have been "
        "booted and all of the old processes have been stopped.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="release:promote", object="release", title="Release promoted",
        pairs=(("release:promote", "start"),), severity=Severity.INFO,
        render=lambda d: f"Promoted release {d.get('id', '?')} for app {_app(d)}",
        meaning="A release has been promoted to be the live version on the application. "
        "This does not mean the deployment is totally complete. See the “Finished rolling "
        "deploy” notification above.",
    ),
    EventType(
        key="release:promote-failed", object="release", title="Promotion failed",
        # v3: app:promote:errored, or cancelled (its status is not documented: either).
        pairs=(("release:promote", "error"), ("release:finish", "error"),
               ("app:promote:errored", "error"), ("app:promote:cancelled", "error"),
               ("app:promote:cancelled", "success")),
        severity=Severity.ERROR,
        render=lambda d: f"Promoting release {d.get('id', '?')} failed for app {_app(d)}: "
        f"{d.get('message') or 'no reason given'}",
        meaning="A release could not be promoted; the previous release stays live.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="release:scale", object="release", title="Release scaled",
        pairs=(("release:scale", "success"),), severity=Severity.INFO,
        render=lambda d: f"Scaled release {d.get('id', '?')} for app {_app(d)}",
        meaning="A convox scale command has been received, instructing the Rack to run a "
        "different number of copies for a specific process.",
    ),
    EventType(
        key="resource:create", object="resource", title="Resource created",
        pairs=(("resource:create", "success"), ("service:create", "success")),
        severity=Severity.SUCCESS,
        render=lambda d: f"Created {d.get('type', 'unknown')} resource {d.get('name', '?')}",
        meaning="A resource (such as postgres, mysql, redis, etc) has been created by "
        "Convox, as with convox resources create. This notification tells you the "
        "resource type and resource name, respectively.",
    ),
    EventType(
        key="resource:delete", object="resource", title="Resource deleted",
        pairs=(("resource:delete", "success"), ("service:delete", "success")),
        severity=Severity.INFO,
        render=lambda d: f"Deleted {d.get('type', 'unknown')} resource {d.get('name', '?')}",
        meaning="A resource has been deleted by Convox, as with convox resources delete.",
    ),
    EventType(
        key="rack:update", object="rack", title="Rack update",
        pairs=(("rack:update", "success"),), severity=Severity.INFO,
        render=_rack_update,
        meaning="A rack update has been initiated: a new version (updates take from a few "
        "seconds to several minutes, depending on whether they require the backing EC2 "
        "instances to be restarted; most do not), a new number of instances in the "
        "cluster, or a new instance type (processes are re-launched, which can take a "
        "few minutes).",
    ),
    EventType(
        key="rack:unreachable", object="rack", title="Rack unreachable",
        pairs=(("rack:unreachable", "error"),), severity=Severity.ERROR,
        render=lambda d: f"Rack unreachable: {d.get('message') or 'no answer'}",
        meaning="The console has not been able to reach a connected rack's API for several "
        "tries in a row. Its page may be out of date until it answers again; the rack's "
        "apps may still be running.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="rack:reachable", object="rack", title="Rack reachable again",
        pairs=(("rack:reachable", "success"),), severity=Severity.SUCCESS,
        render=lambda d: "Rack reachable again",
        meaning="A connected rack that could not be reached answers again; the console has "
        "read it and its page is up to date.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="rack:internal", object="rack", title="Rack housekeeping",
        pairs=(("rack:capacity", "success"), ("rack:converge", "success")),
        severity=Severity.INFO,
        render=lambda d: "Rack housekeeping event",
        meaning="The rack's own capacity and convergence checks. Recorded; they notify "
        "nobody unless they ask for it.",
        notifies_by_default=False, default_channels=frozenset(),
    ),
    EventType(
        key="other:failed", object="other", title="Other failures",
        pairs=(), severity=Severity.ERROR,
        render=lambda d: "",  # built by _generic_line
        meaning="Any other rack operation that reported an error.",
        default_channels=_IN_APP_AND_EMAIL,
    ),
    EventType(
        key="other:event", object="other", title="Other events",
        pairs=(), severity=Severity.INFO,
        render=lambda d: "",  # built by _generic_line
        meaning="A rack event the console has no special wording for, such as one added by "
        "a newer rack version.",
    ),
)

BY_KEY: dict[str, EventType] = {t.key: t for t in EVENT_TYPES}
_BY_PAIR: dict[tuple[str, str], EventType] = {p: t for t in EVENT_TYPES for p in t.pairs}
OBJECTS: tuple[str, ...] = tuple(dict.fromkeys(t.object for t in EVENT_TYPES))

_STATUS_WORDS = {"success": "succeeded", "start": "started", "error": "failed",
                 "skipped": "skipped", "cancel": "cancelled"}
_GENERIC_MAX = 300


def event_type_for(action: str, status: str) -> EventType:
    known = _BY_PAIR.get((action, status))
    if known:
        return known
    return BY_KEY["other:failed" if status == "error" else "other:event"]


def _generic_line(action: str, status: str, data: Data) -> str:
    subject = action.replace(":", " ", 1)
    details = ", ".join(
        f"{k} {v}" for k, v in sorted(data.items()) if k not in ("rack", "message", "actor")
    )
    line = f"{subject} {_STATUS_WORDS.get(status, status)}"
    if details:
        line += f" ({details})"
    if status == "error":
        line += f": {data.get('message') or 'no reason given'}"
    if len(line) > _GENERIC_MAX:
        line = line[: _GENERIC_MAX - 1] + "…"
    return line


def render_message(rack_name: str, action: str, status: str, data: Data) -> str:
    """The notification's line, as the seed words it: `[rack] Created app example`.

    The rack's words in it lose their bidirectional controls: one in an app's name would
    reverse the rest of the line wherever it is shown (the feed, emails, chat, desktop
    alerts)."""
    rack_name = without_bidi_controls(rack_name)
    data = {key: without_bidi_controls(value) if isinstance(value, str) else value
            for key, value in data.items()}
    kind = event_type_for(action, status)
    body = kind.render(data) if kind.pairs else _generic_line(action, status, data)
    return f"[{rack_name}] {body}"
