"""Slow work: the local rack's builds and rolling deploys; a connected rack's sync, and
following its builds and promotes with short tasks that reschedule themselves.

A build tells the pages watching it how it goes (notifications.live.push.broadcast_build) each
time its logs grow or its status changes, after the change is stored.
"""

import time

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from racks import invitations, sync
from racks.driver import RackError
from racks.events import acting_as, build_progressed, emit
from racks.models import Build, BuildStatus, Release, new_object_id

BUILD_STEPS = (
    "Cloning source",
    "Reading convox.yml",
    "Building image web",
    "Running tests",
    "Pushing image",
)


@shared_task(acks_late=True)
def run_build(build_id: str, actor: str = "") -> None:
    """Run a local build to its end; its events name `actor`, who started it."""
    with acting_as(actor):
        _run_build(build_id)


def _run_build(build_id: str) -> None:
    build = Build.objects.select_related("app__rack").filter(pk=build_id).first()
    if build is None or build.status != BuildStatus.CREATED:
        return
    build.status, build.started_at = BuildStatus.RUNNING, timezone.now()
    build.logs = f"Build {build.id} started\n"
    build.save(update_fields=["status", "started_at", "logs"])
    build_progressed(build, build.logs)
    pause = settings.LOCAL_RACK_BUILD_SECONDS / len(BUILD_STEPS)
    steps = BUILD_STEPS[:-1] if build.should_fail else BUILD_STEPS
    for step in steps:
        time.sleep(pause)
        build.logs += f"{step}\n"
        Build.objects.filter(pk=build.pk).update(logs=build.logs)
        build_progressed(build, f"{step}\n")
    app, rack = build.app, build.app.rack
    with transaction.atomic():
        build.ended_at = timezone.now()
        if build.should_fail:
            build.status = BuildStatus.FAILED
            ending = "ERROR: tests failed: exit status 1\n"
            build.logs += ending
            build.save(update_fields=["status", "ended_at", "logs"])
            transaction.on_commit(lambda: build_progressed(build, ending))
            emit(rack, "build:create", {"id": build.id, "app": app.name,
                                        "message": "tests failed: exit status 1"},
                 status="error")
            return
        previous = app.releases.order_by("-created_at").first()
        release = Release.objects.create(id=new_object_id("R"), app=app, build=build,
                                         env=previous.env if previous else {})
        build.status = BuildStatus.COMPLETE
        ending = f"Build complete: release {release.id}\n"
        build.logs += ending
        build.save(update_fields=["status", "ended_at", "logs"])
        transaction.on_commit(lambda: build_progressed(build, ending))
        emit(rack, "build:create", {"id": build.id, "app": app.name, "release_id": release.id},
             once_as=f"built:{build.id}")
        emit(rack, "release:create", {"id": release.id, "app": app.name})


@shared_task(acks_late=True)
def finish_rolling_deploy(release_id: str, actor: str = "") -> None:
    """The rolling deploy of a promoted release completes a few seconds later; its event
    names `actor`, who promoted it."""
    time.sleep(settings.LOCAL_RACK_DEPLOY_SECONDS)
    release = Release.objects.select_related("app__rack").filter(pk=release_id).first()
    if release is None or not release.active:
        return
    with acting_as(actor):
        emit(release.app.rack, "release:promote", {"id": release.id, "app": release.app.name},
             once_as=f"deployed:{release.id}:{release.promoted_at.isoformat()}")


@shared_task(name="racks.tasks.send_invitation", acks_late=True)
def send_invitation(invitation_id: int) -> None:
    invitations.send_invitation(invitation_id)


@shared_task(name="racks.tasks.sync_due_racks")
def sync_due_racks() -> None:
    """Beat: queue a sync of each connected rack whose turn has come, spread over a few
    seconds so that racks due together are not all read at once."""
    for n, rack_id in enumerate(sync.due_racks()):
        sync_rack.apply_async((rack_id,), countdown=n % 10)


@shared_task(name="racks.tasks.sync_rack", acks_late=True)
def sync_rack(rack_id: int) -> None:
    sync.run_sync(rack_id)


@shared_task(name="racks.tasks.follow_build", acks_late=True)
def follow_build(build_id: str) -> None:
    """One step of following a connected rack's build (its status, and while it runs its
    logs streamed from the rack for up to RACK_LOGS_STREAM_SECONDS); again until it ends."""
    try:
        again = sync.follow_build_step(build_id)
    except RackError:
        build = Build.objects.filter(pk=build_id).first()
        # The rack did not answer: look later, unless it has been too long (sync reads it).
        again = None if build is None or sync.followed_long_enough(build) \
            else sync.BUILD_POLL_SECONDS * 5
    if again is not None:
        follow_build.apply_async((build_id,), countdown=again)


@shared_task(name="racks.tasks.follow_promote", acks_late=True)
def follow_promote(release_id: str) -> None:
    """One look at the app a promote is rolling out on; again until it settles."""
    try:
        again = sync.follow_promote_step(release_id)
    except RackError:
        release = Release.objects.filter(pk=release_id).first()
        again = None if release is None or sync.promote_followed_long_enough(release) \
            else sync.PROMOTE_POLL_SECONDS * 3
    if again is not None:
        follow_promote.apply_async((release_id,), countdown=again)
