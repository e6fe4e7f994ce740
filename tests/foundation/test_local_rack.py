"""The local rack behaves like a rack: every operation emits its event through the pipeline."""

import pytest

from notifications.models import FeedEntry, Notification, Source
from racks.driver import RackError
from racks.drivers import driver_for
from racks.models import App, Build, BuildStatus, Formation, Release, Resource
from tests.helpers import wait_for


def messages(rack) -> list[str]:
    return list(Notification.objects.filter(rack=rack).order_by("id")
                .values_list("message", flat=True))


def test_creating_and_deleting_an_app(rack, owner):
    local = driver_for(rack)
    app = local.create_app(rack, "web")
    local.delete_app(app)
    assert messages(rack) == ["[production] Created app web", "[production] Deleted app web"]
    assert not App.objects.exists()
    assert Notification.objects.first().source == Source.CONSOLE
    assert FeedEntry.objects.filter(user=owner).count() == 2


def test_an_app_name_is_checked_and_unique(rack):
    local = driver_for(rack)
    local.create_app(rack, "web")
    with pytest.raises(RackError, match="already exists"):
        local.create_app(rack, "web")
    with pytest.raises(RackError, match="lower-case"):
        local.create_app(rack, "Web App!")
    assert messages(rack) == ["[production] Created app web"]


def test_a_build_that_completes_creates_a_release(rack, owner, celery_worker):
    app = driver_for(rack).create_app(rack, "web")
    build = driver_for(rack).start_build(app, description="main@abc123")
    wait_for(lambda: Build.objects.get(pk=build.pk).status == BuildStatus.COMPLETE)
    build.refresh_from_db()
    release = Release.objects.get(build=build)
    assert "Build complete" in build.logs
    wait_for(lambda: f"[production] Created release {release.id} for app web" in messages(rack))
    built = Notification.objects.get(action="build:create")
    assert built.status == "success" and built.data["release_id"] == release.id
    # A completed build is recorded but notifies nobody by default.
    assert not FeedEntry.objects.filter(notification=built).exists()


def test_a_build_that_fails_yields_the_failure_notification(rack, owner, celery_worker):
    app = driver_for(rack).create_app(rack, "web")
    build = driver_for(rack).start_build(app, fail=True)
    line = f"[production] Build {build.id} failed for app web"
    wait_for(lambda: line in messages(rack))
    build.refresh_from_db()
    assert build.status == BuildStatus.FAILED and "ERROR" in build.logs
    failed = Notification.objects.get(message=line)
    assert failed.severity == "error" and failed.data["message"]
    assert FeedEntry.objects.filter(notification=failed, user=owner).exists()
    assert not Release.objects.filter(build=build).exists()


def test_a_promote_yields_promoted_then_finished_rolling_deploy(rack, owner, celery_worker):
    local = driver_for(rack)
    app = local.create_app(rack, "web")
    release = local.set_env(app, {"DEBUG": "false"})
    local.promote(release)
    done = f"[production] Finished rolling deploy of release {release.id} for app web"
    wait_for(lambda: done in messages(rack))
    assert messages(rack)[-3:] == [
        f"[production] Created release {release.id} for app web",
        f"[production] Promoted release {release.id} for app web",
        done,
    ]
    release.refresh_from_db()
    assert release.active and app.active_release == release


def test_promoting_moves_the_live_release(rack):
    local = driver_for(rack)
    app = local.create_app(rack, "web")
    first, second = local.set_env(app, {"A": "1"}), local.set_env(app, {"A": "2"})
    local.promote(first)
    local.promote(second)
    first.refresh_from_db()
    assert not first.active and app.active_release == second
    with pytest.raises(RackError, match="already the live release"):
        local.promote(second)


def test_changing_env_creates_a_release_that_keeps_the_build(rack):
    local = driver_for(rack)
    app = local.create_app(rack, "web")
    release = local.set_env(app, {"A": "1"})
    assert release.env == {"A": "1"}
    assert messages(rack)[-1] == f"[production] Created release {release.id} for app web"
    with pytest.raises(RackError):
        local.set_env(app, {"A": 1})


def test_scaling_needs_a_live_release_and_sets_the_formation(rack):
    local = driver_for(rack)
    app = local.create_app(rack, "web")
    with pytest.raises(RackError, match="promote one"):
        local.scale(app, "web", 3)
    release = local.set_env(app, {})
    local.promote(release)
    local.scale(app, "web", 3)
    assert Formation.objects.get(app=app, process="web").count == 3
    assert messages(rack)[-1] == f"[production] Scaled release {release.id} for app web"
    for bad in (-1, 101, "3", True):
        with pytest.raises(RackError):
            local.scale(app, "web", bad)


def test_resources_are_created_and_deleted(rack):
    local = driver_for(rack)
    pg = local.create_resource(rack, "pg1", "postgres")
    with pytest.raises(RackError, match="already exists"):
        local.create_resource(rack, "pg1", "postgres")
    with pytest.raises(RackError, match="type"):
        local.create_resource(rack, "db2", "oracle")
    local.delete_resource(pg)
    assert messages(rack) == ["[production] Created postgres resource pg1",
                              "[production] Deleted postgres resource pg1"]
    assert not Resource.objects.exists()


def test_updating_the_rack_reports_only_what_changed(rack):
    local = driver_for(rack)
    local.update_rack(rack, version="20171214220445", count=5, instance_type="t2.small")
    with pytest.raises(RackError, match="Nothing to update"):
        local.update_rack(rack, count=5)  # nothing changed: refused, no event
    local.update_rack(rack, count=3)
    assert messages(rack) == [
        "[production] Updating rack to: version 20171214220445, count 5, instance type t2.small",
        "[production] Updating rack to: count 3",
    ]
    rack.refresh_from_db()
    assert (rack.version, rack.instance_count, rack.instance_type) == (
        "20171214220445", 3, "t2.small")
    for bad in ({"count": 0}, {"count": "5"}, {"version": ""}, {"instance_type": "x" * 41}):
        with pytest.raises(RackError):
            local.update_rack(rack, **bad)
