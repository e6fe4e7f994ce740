"""The periodic sync and the followers of builds and promotes, run by a real Celery worker;
the build page's live updates go out through notifications.live.push.broadcast_build."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.live import layer
from racks import sync
from racks.connect import connect_rack
from racks.drivers import driver_for
from racks.models import Rack, Release
from racks.tasks import sync_due_racks
from tests.helpers import wait_for
from tests.racks.test_convox_driver import tarball_source


@pytest.fixture
def real(start_fake, org, owner):
    fake = start_fake(generation=3, name="real")
    return fake, connect_rack(org, "real", host=fake.url, password=fake.password,
                              user=owner).rack


def test_beat_syncs_the_racks_that_are_due(real, celery_worker):
    fake, rack = real
    fake.create_app({"name": "lost"})  # its webhook never came
    Rack.objects.filter(pk=rack.pk).update(next_sync_at=timezone.now() - timedelta(1),
                                           synced_at=None)
    sync_due_racks.delay()
    wait_for(lambda: rack.apps.filter(name="lost").exists(), what="the rack was modelled")
    # Written down once what the sync read is committed and its watchers told.
    wait_for(lambda: Rack.objects.get(pk=rack.pk).synced_at is not None,
             what="the sync was written down")


def test_a_build_and_a_failed_promote_are_followed_by_tasks(real, celery_worker):
    fake, rack = real
    app = driver_for(rack).create_app(rack, "web")
    wait_for(fake.settled, what="the rack finished what it started")
    build = driver_for(rack).start_build(app, source=tarball_source())
    wait_for(lambda: Release.objects.filter(build_id=build.id).exists(),
             what="the build was followed to its release")
    first = Release.objects.get(build_id=build.id)
    driver_for(rack).promote(first)
    wait_for(lambda: fake.apps["web"]["release"] == first.id)
    second = driver_for(rack).set_env(app, {"A": "1"})
    fake.fail_next_promote = True
    driver_for(rack).promote(second)
    wait_for(lambda: Release.objects.get(pk=first.id).active,
             what="the rolled-back promote left the first release live")
    assert not Release.objects.get(pk=second.id).active


def test_following_a_build_pushes_its_status_and_new_logs(
        real, monkeypatch, django_capture_on_commit_callbacks):
    fake, rack = real
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(layer, "send", lambda group, message: sent.append((group, message)))
    app = driver_for(rack).create_app(rack, "web")
    build = driver_for(rack).start_build(app, source=tarball_source())
    with django_capture_on_commit_callbacks(execute=True):
        wait_for(lambda: sync.follow_build_step(build.id) is None)
    # The last push goes to the build's watchers, and to its app's.
    groups = {group: message for group, message in sent[-2:]}
    assert set(groups) == {f"build.{build.id}", f"app.{rack.pk}.web"}
    message = groups[f"build.{build.id}"]
    assert message["type"] == "feed.build"
    # Streamed from the rack's logs socket as they came, each part once.
    told = "".join(m["logs"] for group, m in sent if group == f"build.{build.id}")
    build.refresh_from_db()
    assert "Build complete" in told and told == build.logs
    assert message["build"]["id"] == build.id and message["build"]["app"] == "web"
    assert message["build"]["status"] == "complete" and message["build"]["ended_at"]
