"""The Convox driver: a real rack's operations, through its HTTP API (racks.rack_api).

Each operation asks the rack, then models what the rack accepted (an app, a build, a
release) so the pages show it at once. It emits no notification: the rack's own webhook,
registered when the rack was connected, reports what happened through the pipeline, and
racks.intake.state finds the change already made. Long operations (a build, a promote) are
followed by short tasks that reschedule themselves (racks.tasks), since a promote can
take half an hour and a task at most two minutes.
"""

import json
import secrets
from collections.abc import AsyncIterator, Iterator

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.encryption import InvalidToken, decrypt
from racks.driver import RackError, Source, check_name, check_room_on
from racks.env import check_based_on, check_env
from racks.events import app_progressed
from racks.models import (
    RACK_ID_RE,
    App,
    Build,
    BuildStatus,
    Capped,
    Formation,
    Generation,
    Rack,
    Release,
    Resource,
    ResourceType,
)
from racks.rack_api import RackAPI
from racks.rack_update import changes_asked
from racks.releases import make_release_active

# Racks older than this have neither the objects upload nor releases with env.
OLDEST_V2_VERSION = "20180708231844"
# Queued by name: racks.tasks imports racks.sync, which imports this module.
FOLLOW_BUILD = "racks.tasks.follow_build"
FOLLOW_PROMOTE = "racks.tasks.follow_promote"

SCALE_COUNT_MAX = 1000
SIZE_MAX = 1_000_000  # cpu units or millicores, memory MB or MiB: far past any instance


def api_for(rack: Rack) -> RackAPI:
    """The rack's API with its decrypted password."""
    try:
        password = decrypt(rack.password_encrypted)
    except InvalidToken:
        raise RackError(f"The password of {rack.name} cannot be decrypted with this "
                        "console's ENCRYPTION_KEYS: connect the rack again.") from None
    return RackAPI(rack.host, password, rack.tls_fingerprint)


def env_text(env: dict[str, str]) -> str:
    """An environment as the rack stores it: sorted `KEY=VALUE` lines."""
    return "".join(f"{name}={env[name]}\n" for name in sorted(env))


def parse_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (text or "").splitlines():
        name, equals, value = line.partition("=")
        if equals and name:
            env[name] = value
    return env


class ConvoxRack:
    def create_app(self, rack: Rack, name: str) -> App:
        check_name("The app", name)
        if rack.apps.filter(name=name).exists():
            raise RackError(f"An app named {name} already exists on {rack.name}.",
                            field="name")
        with transaction.atomic():  # refuse before the rack makes it, not after
            check_room_on(rack, Capped.APPS)
        # As `convox apps create <name>` sends it: the rack's own default generation.
        api_for(rack).create("/apps", {"name": name})
        with transaction.atomic():
            check_room_on(rack, Capped.APPS)
            try:
                with transaction.atomic():
                    app, _ = App.objects.get_or_create(rack=rack, name=name)
            except IntegrityError:  # the rack's own app:create event came first
                app = App.objects.get(rack=rack, name=name)
        return app

    def delete_app(self, app: App) -> None:
        api_for(app.rack).act("DELETE", f"/apps/{app.name}")
        app.delete()

    def start_build(self, app: App, *, description: str = "", fail: bool = False,
                    source: Source | None = None) -> Build:
        if fail:
            raise RackError("A real rack builds what its source says: it cannot be asked for "
                            "a build that fails.")
        if source is not None and source.size is not None and \
                source.size > settings.SOURCE_UPLOAD_MAX_BYTES:
            raise source_too_large()
        if len(description) > 200:
            raise RackError("A build description is at most 200 characters.",
                            field="description")
        first = next(source.chunks, b"") if source is not None else b""
        if not first:
            raise RackError("A build on a Convox rack starts from the app's source as a "
                            ".tgz tarball: upload one.", field="source")
        api = api_for(app.rack)
        # The CLI's upload: the tarball as an object of the app, then a build of its URL.
        uploaded = api.call("POST", f"/apps/{app.name}/objects/tmp/{secrets.token_hex(16)}.tgz",
                            body=_forwarded(first, source.chunks), length=source.size,
                            content_type="application/octet-stream",
                            timeout=settings.RACK_UPLOAD_TIMEOUT_SECONDS)
        url = _object_url(uploaded.body)
        # As `convox build` sends it: the options given, and no others.
        form = {"url": url, **({"description": description} if description else {})}
        made = api.create(f"/apps/{app.name}/builds", form)
        build_id = made.get("id", "") if isinstance(made, dict) else ""
        if not isinstance(build_id, str) or not build_id.startswith("B") or len(build_id) != 11:
            raise RackError("The rack accepted the build but did not say its id.")
        with transaction.atomic():
            build, _ = Build.objects.update_or_create(
                id=build_id, defaults={"app": app, "description": description[:200],
                                       "status": _build_status(made.get("status"))})
            transaction.on_commit(lambda: current_app.send_task(FOLLOW_BUILD, [build.id]))
        return build

    def set_env(self, app: App, env: dict[str, str], *,
                based_on: str | None = None) -> Release:
        try:
            check_env(env)
        except ValueError as problem:
            raise RackError(str(problem), field="env") from None
        api = api_for(app.rack)
        _check_env_is_known(api, app, based_on)
        made = api.create(f"/apps/{app.name}/releases", {"env": env_text(env)})
        release_id = made.get("id", "") if isinstance(made, dict) else ""
        if not isinstance(release_id, str) or not release_id.startswith("R"):
            raise RackError("The rack accepted the environment but did not say the release.")
        build = Build.objects.filter(pk=made.get("build") or "", app=app).first()
        release, _ = Release.objects.update_or_create(
            id=release_id, defaults={"app": app, "env": env, "build": build})
        return release

    def promote(self, release: Release, *, force: bool = False) -> None:
        if release.active and not force:
            raise RackError(f"Release {release.id} is already the live release.")
        app = release.app
        form = {"force": "true"} if force else {}
        try:
            api_for(app.rack).act("POST", f"/apps/{app.name}/releases/{release.id}/promote",
                                  form)
        except RackError as refused:
            if "currently updating" in str(refused):
                raise RackError(f"{app.name} is still updating. Promote again with force "
                                "to promote it anyway (the current update is replaced)."
                                ) from None
            raise
        with transaction.atomic():
            make_release_active(release)
            transaction.on_commit(lambda: current_app.send_task(FOLLOW_PROMOTE, [release.id]))

    def scale(self, app: App, process: str, count: int, *, cpu: int | None = None,
              memory: int | None = None) -> None:
        check_name("The process", process, field="process")
        form: dict[str, str] = {}
        for what, value, most in (("count", count, SCALE_COUNT_MAX), ("cpu", cpu, SIZE_MAX),
                                  ("memory", memory, SIZE_MAX)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
                raise RackError(f"A service's {what} is a whole number from 0 to {most}.",
                                field=what)
            form[what] = str(value)
        api_for(app.rack).act("PUT", f"/apps/{app.name}/services/{process}", form)
        sizes = {k: int(v) for k, v in form.items()}
        Formation.objects.update_or_create(app=app, process=process, defaults=sizes)
        app_progressed(app)

    def create_resource(self, rack: Rack, name: str, type: str) -> Resource:
        check_name("The resource", name)
        if type not in ResourceType.values:
            raise RackError("A resource type is one of " + ", ".join(ResourceType.values) + ".",
                            field="type")
        if rack.generation == Generation.V3 and type != ResourceType.WEBHOOK:
            raise RackError("A v3 rack has webhook resources only: its databases are "
                            "resources of an app, declared in convox.yml.", field="type")
        if type == ResourceType.WEBHOOK:
            raise RackError("A webhook resource needs its URL: create it with the CLI "
                            "(convox rack resources create webhook Url=...).", field="type")
        if rack.resources.filter(name=name).exists():
            raise RackError(f"A resource named {name} already exists on {rack.name}.",
                            field="name")
        with transaction.atomic():  # refuse before the rack makes it, not after
            check_room_on(rack, Capped.RESOURCES)
        api_for(rack).create("/resources", {"kind": type, "name": name})
        with transaction.atomic():
            check_room_on(rack, Capped.RESOURCES)
            resource, _ = Resource.objects.get_or_create(
                rack=rack, name=name, defaults={"type": type, "status": "creating"})
        return resource

    def delete_resource(self, resource: Resource) -> None:
        rack = resource.rack
        if resource.name == rack.webhook_resource:
            raise RackError("This webhook is how the rack reports its events to the console: "
                            "disconnect the rack instead.")
        api_for(rack).act("DELETE", f"/resources/{resource.name}")
        resource.delete()

    def update_rack(self, rack: Rack, *, version: str | None = None, count: int | None = None,
                    instance_type: str | None = None) -> None:
        if rack.generation == Generation.V3:
            raise RackError("A v3 rack cannot be updated through its API (it answers 501): "
                            "run convox rack update with the CLI.")
        form = {name: str(value) for name, value in changes_asked(
            rack, version=version, count=count, instance_type=instance_type).items()}
        try:
            api_for(rack).act("PUT", "/system", form)
        except RackError as refused:
            if "HTTP 501" in str(refused):
                raise RackError("This generation of rack does not support updates through "
                                "its API: run convox rack update with the CLI.") from None
            raise
        rack.status = "updating"
        rack.save(update_fields=["status"])


def source_too_large() -> RackError:
    return RackError(f"The source is larger than SOURCE_UPLOAD_MAX_BYTES "
                     f"({settings.SOURCE_UPLOAD_MAX_BYTES} bytes).", field="source")


async def _forwarded(first: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The source's chunks as they are sent, counted: past SOURCE_UPLOAD_MAX_BYTES (a
    source whose size was not declared) the upload stops with the cap's message. Each
    chunk is read when the last one is sent: one at a time in memory."""
    sent, chunk = 0, first
    while chunk:
        sent += len(chunk)
        if sent > settings.SOURCE_UPLOAD_MAX_BYTES:
            raise source_too_large()
        yield chunk
        chunk = next(rest, b"")


def rack_env(api: RackAPI, app: App) -> tuple[str, dict[str, str]] | None:
    """The app's latest release on the rack and its environment, or None when it has no
    release. Read as the fact sheet says: the list with limit=1, then the release itself
    when the list leaves env empty (a v2 rack's list always does)."""
    rows = api.read(f"/apps/{app.name}/releases", query={"limit": "1"})
    latest = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
    release_id = latest.get("id")
    if not isinstance(release_id, str) or not RACK_ID_RE.match(release_id) or \
            not release_id.startswith("R"):
        return None
    env = latest.get("env")
    if not isinstance(env, str) or not env:
        row = api.read(f"/apps/{app.name}/releases/{release_id}")
        env = row.get("env") if isinstance(row, dict) else None
    if not isinstance(env, str):
        raise RackError(f"{app.rack.name} did not say the environment of {app.name}: "
                        "nothing was changed.")
    return release_id, parse_env(env)


def _check_env_is_known(api: RackAPI, app: App, based_on: str | None) -> None:
    """Refuse to replace an environment the console does not know.

    Setting an environment replaces the rack's whole environment with the one given,
    which was edited from the one the console shows. If that is not the rack's (changed
    on the rack, or not read yet), saving it would drop variables nobody saw: the rack's
    is recorded instead, for the person to start again from it."""
    known = app.releases.order_by("-created_at").first()
    on_rack = rack_env(api, app)
    try:
        check_based_on(on_rack[0] if on_rack else "", based_on, app.name)
    except ValueError as problem:
        raise RackError(str(problem), field="env") from None
    if (on_rack[1] if on_rack else {}) == (known.env if known else {}):
        return
    if on_rack is not None and not Release.objects.filter(pk=on_rack[0]).exclude(
            app=app).exists():
        Release.objects.update_or_create(id=on_rack[0], app=app, defaults={"env": on_rack[1]})
        if known is not None and known.pk != on_rack[0]:
            # The rack's release is the latest: the page starts from it from now on.
            Release.objects.filter(pk=on_rack[0]).update(created_at=timezone.now())
    raise RackError(f"The environment of {app.name} on {app.rack.name} is not the one "
                    "this console showed (it was changed on the rack, or not read yet), "
                    "and saving replaces all of it: nothing was changed. Reload the page "
                    "to start from the rack's environment.", field="env")


def _object_url(body: bytes) -> str:
    """The `object://` URL of an upload: the key is `Url`, the struct having no json tag."""
    try:
        url = json.loads(body).get("Url", "")
    except (ValueError, AttributeError):
        url = ""
    if not isinstance(url, str) or not url.startswith("object://"):
        raise RackError("The rack did not accept the source upload (no object URL).")
    return url


def _build_status(value: object) -> str:
    return value if value in BuildStatus.values else BuildStatus.CREATED


def version_too_old(generation: str, version: str) -> bool:
    """A v2 rack older than the objects upload and releases with env."""
    return generation == Generation.V2 and version.isdigit() and version < OLDEST_V2_VERSION
