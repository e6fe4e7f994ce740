"""Keeping a connected rack's model in step with the rack, when webhooks are lost.

A periodic task (racks.tasks.sync_due_racks) queues each connected rack whose
`next_sync_at` has come; `sync_rack` reads the rack (system, apps, their builds up to
RACK_SYNC_LIMIT, releases and services, and the rack's resources) and makes the model say
the same. A rack that does not answer is read again later and later (backoff); after
RACK_UNREACHABLE_AFTER failures in a row it is marked unreachable, and its members are
told once, through the pipeline, with the catalogue's rack:unreachable event; they are
told again (rack:reachable) when it answers.

Following one long operation (a build until it ends, a promote until the app runs the
release or rolls back) is here too, one step per call: the tasks that call it reschedule
themselves, and what they follow lives in the database (the build's status and logs, the
release's promoted_at). A running build's logs have one reader, its follow task, which
streams them from the rack's logs websocket into the build and out to its watchers
(racks.events.build_progressed, fanned out through the channel layer).
"""

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from racks.caps import forget_over_cap, has_room, note_over_cap
from racks.convox import api_for, parse_env
from racks.driver import RackError
from racks.events import build_progressed, emit
from racks.models import (
    NAME_RE,
    RACK_ID_RE,
    App,
    Build,
    BuildStatus,
    Capped,
    Formation,
    Rack,
    Release,
    Resource,
)
from racks.rack_api import RackAPI
from racks.releases import make_release_active

log = logging.getLogger(__name__)

# A promote is followed as the CLI does: every 5 s, for up to 35 minutes.
PROMOTE_POLL_SECONDS = 5.0
PROMOTE_GIVE_UP = timedelta(minutes=35)
BUILD_POLL_SECONDS = 2.0
BUILD_GIVE_UP = timedelta(hours=2)
BUILD_ENDED = (BuildStatus.COMPLETE, BuildStatus.FAILED)
# A streamed build's new logs are stored, and sent to its watchers, this often at most.
LOGS_FLUSH_SECONDS = 0.25
# After a build's logs socket failed, the build is polled this long before trying it again.
LOGS_SOCKET_RETRY_SECONDS = 30
# What a sync reads of each app, in this order.
APP_LISTS = ("builds", "releases", "services")
# What the console keeps of a build's logs (the rest is on the rack).
BUILD_LOGS_MAX = 256 * 1024


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _rows(value: object) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


# Reading the rack


def sync_rack(rack: Rack) -> None:
    """Read the whole rack and update its model; raises RackError if the rack fails."""
    api = api_for(rack)
    system, apps, resources = api.read_many([("/system", None), ("/apps", None),
                                             ("/resources", None)])
    named = {app["name"]: app for app in _rows(apps)
             if isinstance(app.get("name"), str) and NAME_RE.match(app["name"])}
    limit = {"limit": str(settings.RACK_SYNC_LIMIT)}
    reads = [(f"/apps/{name}/{what}", None if what == "services" else limit)
             for name in named for what in APP_LISTS]
    lists = [_rows(rows) for rows in api.read_many(reads)]
    per_app = {name: {"app": app, **dict(zip(APP_LISTS, lists[3 * n:3 * n + 3], strict=True))}
               for n, (name, app) in enumerate(named.items())}
    resources = _rows(resources)
    with transaction.atomic():
        _apply_system(rack, system if isinstance(system, dict) else {})
        _apply_apps(rack, per_app)
        _apply_resources(rack, resources)


def _apply_system(rack: Rack, system: dict[str, Any]) -> None:
    for name, value in (("version", system.get("version")), ("status", system.get("status")),
                        ("provider", system.get("provider"))):
        if isinstance(value, str) and value:
            setattr(rack, name, value[:40])
    count = system.get("count")
    if isinstance(count, int) and 0 < count < 100_000:  # v3 reports 0: not reported
        rack.instance_count = count
        rack.instance_type = system.get("type")[:40] if isinstance(system.get("type"), str) \
            else ""
    rack.save(update_fields=["version", "status", "provider", "instance_count",
                             "instance_type"])


def _apply_apps(rack: Rack, per_app: dict[str, dict[str, Any]]) -> None:
    for gone in rack.apps.exclude(name__in=per_app):
        gone.delete()
    for name in set(rack.cap_overflows.filter(kind=Capped.APPS)
                    .values_list("name", flat=True)) - set(per_app):
        forget_over_cap(rack, Capped.APPS, name)
    for name, read in sorted(per_app.items()):
        app = rack.apps.filter(name=name).first()
        if app is None:
            if not has_room(rack, Capped.APPS):
                note_over_cap(rack, Capped.APPS, name)
                continue
            app = App.objects.create(rack=rack, name=name)
        status = read["app"].get("status")
        if isinstance(status, str) and status[:20] != app.status:
            app.status = status[:20]
            app.save(update_fields=["status"])
        _apply_builds(app, read["builds"])
        _apply_releases(app, read["releases"], read["app"].get("release"))
        _apply_services(app, read["services"])


def _apply_builds(app: App, builds: list[dict[str, Any]]) -> None:
    for row in builds:
        build_id = row.get("id", "")
        if not isinstance(build_id, str) or not RACK_ID_RE.match(build_id) or \
                not build_id.startswith("B"):
            continue
        status = row.get("status")
        Build.objects.update_or_create(id=build_id, app=app, defaults={
            "status": status if status in BuildStatus.values else BuildStatus.CREATED,
            "description": row.get("description", "")[:200]
            if isinstance(row.get("description"), str) else "",
            "started_at": _time(row.get("started")), "ended_at": _time(row.get("ended"))})


def _apply_releases(app: App, releases: list[dict[str, Any]], live: object) -> None:
    for row in releases:
        release_id = row.get("id", "")
        if not isinstance(release_id, str) or not RACK_ID_RE.match(release_id) or \
                not release_id.startswith("R"):
            continue
        build = Build.objects.filter(pk=row.get("build") or "", app=app).first()
        defaults: dict[str, Any] = {"build": build}
        env = row.get("env")
        if isinstance(env, str) and env:  # a v2 list leaves env empty: keep what is known
            defaults["env"] = parse_env(env)
        if not Release.objects.filter(pk=release_id).exclude(app=app).exists():
            Release.objects.update_or_create(id=release_id, app=app, defaults=defaults)
    if isinstance(live, str) and live:
        release = Release.objects.filter(pk=live, app=app).first()
        if release is not None and not release.active:
            make_release_active(release)


def _apply_services(app: App, services: list[dict[str, Any]]) -> None:
    seen = []
    for row in services:
        name = row.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            continue
        sizes = {k: row[k] for k in ("count", "cpu", "memory")
                 if isinstance(row.get(k), int) and 0 <= row[k] < 2**31}
        Formation.objects.update_or_create(app=app, process=name, defaults=sizes)
        seen.append(name)
    app.formation.exclude(process__in=seen).delete()


def _apply_resources(rack: Rack, resources: list[dict[str, Any]]) -> None:
    names = []
    for row in resources:
        name, kind = row.get("name"), row.get("type")
        # The console's own webhook is not shown: its URL is the secret ingest URL.
        if not isinstance(name, str) or not NAME_RE.match(name) or \
                name == rack.webhook_resource or not isinstance(kind, str):
            continue
        names.append(name)
        status = row.get("status") if isinstance(row.get("status"), str) else ""
        existing = rack.resources.filter(name=name).first()
        if existing is None:
            if not has_room(rack, Capped.RESOURCES):
                note_over_cap(rack, Capped.RESOURCES, name)
                continue
            Resource.objects.create(rack=rack, name=name, type=kind[:40], status=status[:40])
        elif (existing.type, existing.status) != (kind[:40], status[:40]):
            existing.type, existing.status = kind[:40], status[:40]
            existing.save(update_fields=["type", "status"])
    rack.resources.exclude(name__in=names).delete()


# Reachability and the schedule


def backoff_seconds(failures: int) -> float:
    if failures == 0:
        return settings.RACK_SYNC_INTERVAL_SECONDS
    return min(settings.RACK_SYNC_INTERVAL_SECONDS * 2 ** failures,
               settings.RACK_SYNC_MAX_BACKOFF_SECONDS)


def run_sync(rack_id: int) -> None:
    """Sync one rack and write down how it went; tell its members when it stops or
    starts answering again."""
    rack = Rack.objects.filter(pk=rack_id, driver="convox").first()
    if rack is None:
        return
    try:
        sync_rack(rack)
    except RackError as failed:
        sync_failed(rack, str(failed))
    else:
        sync_succeeded(rack)


def sync_succeeded(rack: Rack) -> None:
    now = timezone.now()
    with transaction.atomic():
        was_unreachable = rack.unreachable_notified
        since = rack.unreachable_since
        Rack.objects.filter(pk=rack.pk).update(
            synced_at=now, sync_failures=0, unreachable_since=None, unreachable_error="",
            unreachable_notified=False, next_sync_at=now + timedelta(seconds=backoff_seconds(0)))
        if was_unreachable:
            emit(rack, "rack:reachable", {}, "success",
                 once_as=f"reachable:{rack.pk}:{since.isoformat() if since else ''}")


def sync_failed(rack: Rack, error: str) -> None:
    now = timezone.now()
    failures = rack.sync_failures + 1
    since = rack.unreachable_since or now
    with transaction.atomic():
        notify = failures >= settings.RACK_UNREACHABLE_AFTER and not rack.unreachable_notified
        Rack.objects.filter(pk=rack.pk).update(
            sync_failures=failures, unreachable_since=since, unreachable_error=error[:500],
            unreachable_notified=rack.unreachable_notified or notify,
            next_sync_at=now + timedelta(seconds=backoff_seconds(failures)))
        if notify:
            emit(rack, "rack:unreachable", {"message": error[:300]}, "error",
                 once_as=f"unreachable:{rack.pk}:{since.isoformat()}")
    log.warning("sync of rack %s failed (%d in a row): %s", rack.pk, failures, error)


def due_racks() -> list[int]:
    """Claim the connected racks whose sync is due: each is moved a full interval on, so
    the next beat does not queue it again while its sync runs."""
    now = timezone.now()
    with transaction.atomic():
        # Served by rack_sync_due_idx.
        due = list(Rack.objects.select_for_update(skip_locked=True)
                   .filter(driver="convox", next_sync_at__lte=now)
                   .values_list("pk", flat=True)[:100])
        Rack.objects.filter(pk__in=due).update(
            next_sync_at=now + timedelta(seconds=settings.RACK_SYNC_INTERVAL_SECONDS))
    return due


def first_sync_at() -> datetime:
    """A newly connected rack's first sync, somewhere in the next interval, so racks
    connected together are not all read at the same moment."""
    return timezone.now() + timedelta(
        seconds=random.uniform(0, settings.RACK_SYNC_INTERVAL_SECONDS))


# Following long operations, one step a call


def follow_build_step(build_id: str) -> float | None:
    """Follow the build for one task: its status and, while it runs, its logs from the
    rack's logs websocket; seconds until the next step, or None when it has ended."""
    build = Build.objects.select_related("app__rack").filter(pk=build_id).first()
    if build is None or build.status in BUILD_ENDED:
        return None
    api = api_for(build.app.rack)
    row = _read_build(api, build)
    streamed = False
    if row.get("status") == BuildStatus.RUNNING:
        record_build(api, build, row)  # the page says "running" while its logs stream
        streamed = stream_build_logs(api, build)
        if streamed:  # the stream ended with the build, or its time was up
            row = _read_build(api, build)
    record_build(api, build, row)
    if build.status in BUILD_ENDED or followed_long_enough(build):
        return None
    return 0.0 if streamed else BUILD_POLL_SECONDS


def _read_build(api: RackAPI, build: Build) -> dict[str, Any]:
    row = api.read(f"/apps/{build.app.name}/builds/{build.id}")
    return row if isinstance(row, dict) else {}


def record_build(api: RackAPI, build: Build, row: dict[str, Any]) -> None:
    """Store what the rack says of the build; at its end, its logs from the rack's logs
    object (the source of truth, whatever streamed before) and its release."""
    app = build.app
    status = row.get("status")
    if status not in BuildStatus.values:
        status = build.status
    ended = status in BUILD_ENDED
    logs, before = build.logs, (build.status, build.logs)
    if ended:
        logs = api.call("GET", f"/apps/{app.name}/objects/build/{build.id}/logs").body[
            -BUILD_LOGS_MAX:].decode(errors="replace")
    appended = logs[len(before[1]):] if logs.startswith(before[1]) else logs
    with transaction.atomic():
        build.status, build.logs = status, logs
        build.started_at = build.started_at or _time(row.get("started")) or timezone.now()
        if ended:
            build.ended_at = _time(row.get("ended")) or timezone.now()
        build.save(update_fields=["status", "logs", "started_at", "ended_at"])
        release_id = row.get("release")
        if ended and isinstance(release_id, str) and RACK_ID_RE.match(release_id) and \
                release_id.startswith("R"):
            previous = app.releases.order_by("-created_at").first()
            Release.objects.get_or_create(id=release_id, defaults={
                "app": app, "build": build, "env": previous.env if previous else {}})
        if (build.status, build.logs) != before:
            transaction.on_commit(lambda: build_progressed(build, appended))


def stream_build_logs(api: RackAPI, build: Build) -> bool:
    """Read the running build's logs from the rack's logs websocket for at most
    RACK_LOGS_STREAM_SECONDS, storing and announcing what is new every LOGS_FLUSH_SECONDS.

    The socket replays the logs from the start, so what is stored already is skipped, by
    its length once the replay is seen to begin with it. True when the stream ended (with
    the build) or its time was up; False when the socket could not be used (no such route,
    an `ERROR:` message, an unreachable rack, logs that are not what is stored): the build
    is then polled, and the socket tried again after LOGS_SOCKET_RETRY_SECONDS."""
    if len(build.logs) >= BUILD_LOGS_MAX or cache.get(_socket_failed_key(build.id)):
        return False
    stored, replayed = build.logs, 0
    pending: list[str] = []
    flushed_at = time.monotonic()
    path = f"/apps/{build.app.name}/builds/{build.id}/logs"
    try:
        for text in api.follow_logs(path, seconds=settings.RACK_LOGS_STREAM_SECONDS,
                                    tick=LOGS_FLUSH_SECONDS):
            if text and replayed < len(stored):
                known = stored[replayed:replayed + len(text)]
                if not text.startswith(known):
                    raise RackError("the rack's logs do not begin with those stored")
                replayed += len(known)
                text = text[len(known):]
            if text:
                pending.append(text)
            if pending and (text is None or time.monotonic() - flushed_at >= LOGS_FLUSH_SECONDS):
                flushed_at = time.monotonic()
                if not append_build_logs(build, "".join(pending)):
                    return False
                pending = []
    except RackError as failed:
        log.info("build %s: its logs socket gave out, polling instead: %s", build.id, failed)
        cache.set(_socket_failed_key(build.id), True, LOGS_SOCKET_RETRY_SECONDS)
        if pending:
            append_build_logs(build, "".join(pending))
        return False
    return not pending or append_build_logs(build, "".join(pending))


def append_build_logs(build: Build, text: str) -> bool:
    """Add streamed text to the build's logs (up to BUILD_LOGS_MAX) and tell its watchers
    what was added. False when it did not all fit, or when the stored logs are no longer
    what this reader last wrote (another reader): the caller stops streaming."""
    added = text[:max(BUILD_LOGS_MAX - len(build.logs), 0)]
    with transaction.atomic():
        stored = Build.objects.select_for_update().values_list("logs", flat=True) \
            .filter(pk=build.pk).first()
        if stored != build.logs:
            return False
        if added:
            build.logs += added
            Build.objects.filter(pk=build.pk).update(logs=build.logs)
            transaction.on_commit(lambda: build_progressed(build, added))
    return added == text


def _socket_failed_key(build_id: str) -> str:
    return f"racks:logs-socket-failed:{build_id}"


def followed_long_enough(build: Build) -> bool:
    """A build still not ended after BUILD_GIVE_UP is left to sync."""
    return timezone.now() - build.created_at > BUILD_GIVE_UP


def promote_followed_long_enough(release: Release) -> bool:
    return release.promoted_at is None or timezone.now() - release.promoted_at > PROMOTE_GIVE_UP


def follow_promote_step(release_id: str) -> float | None:
    """Read the app once while its promote rolls out; seconds until the next look, or
    None when it is running the release, rolled back, or followed long enough."""
    release = Release.objects.select_related("app__rack").filter(pk=release_id).first()
    if release is None or not release.active or release.promoted_at is None:
        return None
    app = release.app
    row = api_for(app.rack).read(f"/apps/{app.name}")
    status = row.get("status") if isinstance(row, dict) else ""
    live = row.get("release") if isinstance(row, dict) else ""
    if isinstance(status, str) and status[:20] != app.status:
        App.objects.filter(pk=app.pk).update(status=status[:20])
    if status == "running" or status == "rollback":
        if live != release.id:  # the CLI's rule: a different release means it failed
            previous = Release.objects.filter(pk=live or "", app=app).first()
            if previous is not None:
                make_release_active(previous)
            else:
                Release.objects.filter(pk=release.pk).update(active=False)
            return None
        if status == "running":
            return None
    if promote_followed_long_enough(release):
        return None
    return PROMOTE_POLL_SECONDS
