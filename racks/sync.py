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
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from racks.caps import forget_over_cap, has_room, note_over_cap
from racks.convox import api_for, parse_env
from racks.driver import RackError
from racks.events import app_progressed, build_progressed, emit
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
    _read_latest_envs(api, per_app)
    resources = _rows(resources)
    with transaction.atomic():
        _apply_system(rack, system if isinstance(system, dict) else {})
        _apply_apps(rack, per_app)
        _apply_resources(rack, resources)


def _release_id(row: dict[str, Any]) -> str | None:
    release_id = row.get("id")
    if isinstance(release_id, str) and RACK_ID_RE.match(release_id) and \
            release_id.startswith("R"):
        return release_id
    return None


def _read_latest_envs(api: RackAPI, per_app: dict[str, dict[str, Any]]) -> None:
    """Give each app's latest release its environment, as `latest_env`: the page's form
    starts from it, and saving the form replaces the rack's whole environment. A v2
    rack's list leaves `env` empty, so when the list shows none the release itself is
    read (the fact sheet's way: list, then GET)."""
    unread: list[tuple[str, str]] = []
    for name, read in per_app.items():
        latest = next((row for row in read["releases"] if _release_id(row)), None)
        read["latest"] = _release_id(latest) if latest else None
        env = latest.get("env") if latest else None
        if isinstance(env, str) and env:
            read["latest_env"] = parse_env(env)
        elif latest is not None:
            unread.append((name, read["latest"]))
    rows = api.read_many([(f"/apps/{name}/releases/{release_id}", None)
                          for name, release_id in unread])
    for (name, _), row in zip(unread, rows, strict=True):
        env = row.get("env") if isinstance(row, dict) else None
        if isinstance(env, str):
            per_app[name]["latest_env"] = parse_env(env)


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
        before = _shown_state(app)
        status = read["app"].get("status")
        if isinstance(status, str) and status[:20] != app.status:
            app.status = status[:20]
            app.save(update_fields=["status"])
        _apply_builds(app, read["builds"])
        _apply_releases(app, read["releases"], read["app"].get("release"),
                        read.get("latest"), read.get("latest_env"))
        _apply_services(app, read["services"])
        if _shown_state(app) != before:
            transaction.on_commit(partial(app_progressed, app))


def _shown_state(app: App) -> tuple[object, ...]:
    """What the app page shows live of an app besides its builds: its status, formation
    and live release."""
    return (app.status,
            tuple(app.formation.order_by("process").values_list("process", "count", "cpu",
                                                                 "memory")),
            app.releases.filter(active=True).values_list("pk", flat=True).first())


def _row_by_row(what: str, rows: list[dict[str, Any]],
                apply: Callable[[dict[str, Any]], None]) -> None:
    """Apply each row in its own savepoint: one row the model refuses (an id already
    another app's, say) is logged and skipped, and the rest of the sync goes on."""
    for row in rows:
        try:
            with transaction.atomic():
                apply(row)
        except DatabaseError:
            log.exception("sync skipped a %s the model refused: %.40r", what, row.get("id"))


def _apply_builds(app: App, builds: list[dict[str, Any]]) -> None:
    def apply(row: dict[str, Any]) -> None:
        build_id = row.get("id", "")
        if not isinstance(build_id, str) or not RACK_ID_RE.match(build_id) or \
                not build_id.startswith("B"):
            return
        status = row.get("status")
        Build.objects.update_or_create(id=build_id, app=app, defaults={
            "status": status if status in BuildStatus.values else BuildStatus.CREATED,
            "description": row.get("description", "")[:200]
            if isinstance(row.get("description"), str) else "",
            "started_at": _time(row.get("started")), "ended_at": _time(row.get("ended"))})
    _row_by_row("build", builds, apply)


def _apply_releases(app: App, releases: list[dict[str, Any]], live: object,
                    latest: str | None, latest_env: dict[str, str] | None) -> None:
    def apply(row: dict[str, Any]) -> None:
        release_id = _release_id(row)
        if release_id is None or Release.objects.filter(pk=release_id).exclude(
                app=app).exists():
            return
        build = Build.objects.filter(pk=row.get("build") or "", app=app).first()
        defaults: dict[str, Any] = {"build": build}
        env = row.get("env")
        if release_id == latest and latest_env is not None:
            defaults["env"] = latest_env
        elif isinstance(env, str) and env:  # a v2 list leaves env empty: keep what is known
            defaults["env"] = parse_env(env)
        release, made = Release.objects.update_or_create(id=release_id, app=app,
                                                         defaults=defaults)
        created = _time(row.get("created"))
        if made and created is not None:
            # The app page takes the newest release's environment as the current one: a
            # release first seen now is dated as the rack dated it, not by this sync.
            Release.objects.filter(pk=release.pk).update(created_at=created)
    # Oldest first, so that even undated releases keep the rack's order.
    _row_by_row("release", list(reversed(releases)), apply)
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
    starts answering again. A sync that fails for a reason of the console's own is
    counted and logged as one the rack failed, so it is retried with backoff, not lost."""
    rack = Rack.objects.filter(pk=rack_id, driver="convox").first()
    if rack is None:
        return
    try:
        sync_rack(rack)
    except RackError as failed:
        sync_failed(rack, str(failed))
    except Exception as failed:  # whatever it is, the schedule goes on
        log.exception("sync of rack %s failed in the console", rack.pk)
        sync_failed(rack, f"The console could not apply what the rack said "
                          f"({type(failed).__name__}); the sync is tried again later.")
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
    changed = isinstance(status, str) and status[:20] != app.status
    if changed:
        App.objects.filter(pk=app.pk).update(status=status[:20])
        app.status = status[:20]
    wait = _promote_outcome(release, status, live)
    if changed:  # after the live release is settled, so the page reads both at once
        app_progressed(app)
    return wait


def _promote_outcome(release: Release, status: object, live: object) -> float | None:
    if status == "running" or status == "rollback":
        if live != release.id:  # the CLI's rule: a different release means it failed
            previous = Release.objects.filter(pk=live or "", app=release.app).first()
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
