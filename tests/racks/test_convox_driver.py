"""The Convox driver against the fake rack, both generations: every action, the request
shapes the CLI sends, and every error form."""

import gzip
import io
import tarfile

import pytest

from notifications.models import Notification
from racks import sync
from racks.driver import RackError, Source
from racks.drivers import driver_for
from racks.models import App, Build, BuildStatus, Formation, Release, Resource
from tests.helpers import wait_for
from tests.racks.conftest import sent


def tarball() -> bytes:
    """An app's source as `convox build` packs it: a .tgz with its convox.yml (the same
    bytes each time: no time in the gzip header)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w") as tar:
        data = b"services:\n  web:\n    build: .\n"
        info = tarfile.TarInfo("convox.yml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tarball_source() -> Source:
    """The tarball as an upload hands it to the driver."""
    return Source.of([tarball()], len(tarball()))


def built_release(fake, app) -> Release:
    """A build from a tarball, followed until it completes, and its release."""
    build = driver_for(app.rack).start_build(app, description="first", source=tarball_source())
    wait_for(lambda: sync.follow_build_step(build.id) is None, what="the build ended")
    build.refresh_from_db()
    assert build.status == BuildStatus.COMPLETE
    return Release.objects.get(build=build)


def test_creating_an_app(fake, connected, app):
    assert app.rack == connected and App.objects.filter(rack=connected, name="web").exists()
    [create] = sent(fake, "POST", "/apps")
    assert create.form == {"name": "web"}
    assert create.headers["content-type"] == "application/x-www-form-urlencoded"
    # The driver emits nothing itself: the rack's webhook reports.
    assert not Notification.objects.exists()


def test_an_app_name_taken_on_the_rack_is_the_racks_message(fake, connected):
    fake.create_app({"name": "web"})
    with pytest.raises(RackError, match="app already exists: web"):
        driver_for(connected).create_app(connected, "web")
    assert not App.objects.exists()


def test_deleting_an_app(fake, connected, app):
    driver_for(connected).delete_app(app)
    assert sent(fake, "DELETE", "/apps/web")
    assert fake.apps["web"]["status"] == "deleting" and not App.objects.exists()


def test_a_locked_app_is_refused_in_each_generations_words(fake, connected, app):
    fake.apps["web"]["locked"] = True
    expected = "app is locked: web" if fake.generation == 3 else "protected from deletion"
    with pytest.raises(RackError, match=expected):
        driver_for(connected).delete_app(app)
    assert App.objects.filter(pk=app.pk).exists()


def test_a_build_uploads_the_source_then_builds_it(fake, connected, app):
    release = built_release(fake, app)
    [upload] = [r for r in fake.requests if r.method == "POST" and
                r.path.startswith("/apps/web/objects/tmp/")]
    assert upload.path.endswith(".tgz") and upload.body == tarball()
    [build] = sent(fake, "POST", "/apps/web/builds")
    assert build.form == {
        "url": f"object://web/{upload.path.removeprefix('/apps/web/objects/')}",
        "description": "first"}
    stored = Build.objects.get(app=app)
    assert "Build complete" in stored.logs and stored.ended_at is not None
    assert release.app == app


def test_a_build_that_fails_is_followed_to_failed(fake, connected, app):
    fake.fail_next_build = True
    build = driver_for(connected).start_build(app, source=tarball_source())
    assert list(sent(fake, "POST", "/apps/web/builds")[0].form) == ["url"]
    wait_for(lambda: sync.follow_build_step(build.id) is None)
    build.refresh_from_db()
    assert build.status == BuildStatus.FAILED and "ERROR" in build.logs


def test_a_build_needs_a_tarball_and_cannot_be_asked_to_fail(connected, app, settings):
    with pytest.raises(RackError, match="tarball"):
        driver_for(connected).start_build(app)
    with pytest.raises(RackError, match="cannot be asked"):
        driver_for(connected).start_build(app, fail=True, source=tarball_source())
    settings.SOURCE_UPLOAD_MAX_BYTES = 10
    with pytest.raises(RackError, match="SOURCE_UPLOAD_MAX_BYTES"):
        driver_for(connected).start_build(app, source=tarball_source())


def test_setting_the_environment_makes_a_release(fake, connected, app):
    built = built_release(fake, app)
    release = driver_for(connected).set_env(app, {"B": "2", "A": "1"})
    [sent_env] = sent(fake, "POST", "/apps/web/releases")
    assert sent_env.form == {"env": "A=1\nB=2\n"}  # the whole environment, sorted lines
    assert release.env == {"A": "1", "B": "2"} and release.build_id == built.build_id
    assert fake.releases[release.id]["build"] == built.build_id


def test_promoting_follows_the_app_until_it_runs_the_release(fake, connected, app):
    release = built_release(fake, app)
    driver_for(connected).promote(release)
    [promote] = sent(fake, "POST", f"/apps/web/releases/{release.id}/promote")
    assert promote.form == {}
    release.refresh_from_db()
    assert release.active
    wait_for(lambda: sync.follow_promote_step(release.id) is None)
    assert fake.apps["web"]["release"] == release.id
    release.refresh_from_db()
    assert release.active


def test_a_promote_that_rolls_back_leaves_the_previous_release_live(fake, connected, app):
    first = built_release(fake, app)
    driver_for(connected).promote(first)
    wait_for(lambda: sync.follow_promote_step(first.id) is None)
    second = driver_for(connected).set_env(app, {"A": "1"})
    fake.fail_next_promote = True
    driver_for(connected).promote(second)
    wait_for(lambda: sync.follow_promote_step(second.id) is None)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.active and not second.active


def test_promoting_while_the_app_updates_asks_for_force(fake, connected, app):
    first = built_release(fake, app)
    fake.settle_seconds = 3  # the first promote is still rolling out
    driver_for(connected).promote(first)
    second = driver_for(connected).set_env(app, {"A": "1"})
    with pytest.raises(RackError, match="still updating.*force"):
        driver_for(connected).promote(second)
    driver_for(connected).promote(second, force=True)
    assert sent(fake, "POST", f"/apps/web/releases/{second.id}/promote")[-1].form == {
        "force": "true"}


def test_scaling_a_service(fake, connected, app):
    release = built_release(fake, app)
    driver_for(connected).promote(release)
    wait_for(lambda: sync.follow_promote_step(release.id) is None)
    driver_for(connected).scale(app, "web", 250, cpu=512, memory=1024)
    [scale] = sent(fake, "PUT", "/apps/web/services/web")
    assert scale.form == {"count": "250", "cpu": "512", "memory": "1024"}
    # Counts over the local rack's 100 are what real racks run.
    assert Formation.objects.filter(app=app, process="web", count=250, cpu=512,
                                    memory=1024).exists()
    with pytest.raises(RackError, match="service not found: worker"):
        driver_for(connected).scale(app, "worker", 1)
    with pytest.raises(RackError, match="count is a whole number"):
        driver_for(connected).scale(app, "web", -1)


def test_rack_resources_where_the_generation_has_them(fake, connected):
    driver = driver_for(connected)
    if fake.generation == 3:
        with pytest.raises(RackError, match="webhook resources only"):
            driver.create_resource(connected, "db", "postgres")
        assert not sent(fake, "POST", "/resources")[1:]
        return
    resource = driver.create_resource(connected, "db", "postgres")
    create = sent(fake, "POST", "/resources")[-1]
    assert create.form == {"kind": "postgres", "name": "db"}
    assert resource.status == "creating"
    driver.delete_resource(resource)
    assert sent(fake, "DELETE", "/resources/db") and not Resource.objects.exists()


def test_the_consoles_own_webhook_cannot_be_deleted_as_a_resource(fake, connected):
    own = Resource(rack=connected, name=connected.webhook_resource, type="webhook")
    with pytest.raises(RackError, match="disconnect the rack instead"):
        driver_for(connected).delete_resource(own)


def test_updating_the_rack_works_on_v2_and_is_said_unsupported_on_v3(fake, connected):
    driver = driver_for(connected)
    if fake.generation == 3:
        with pytest.raises(RackError, match="v3 rack cannot be updated"):
            driver.update_rack(connected, version="3.25.0")
        assert not sent(fake, "PUT", "/system")
        return
    driver.update_rack(connected, version="20250101000000", count=5)
    [update] = sent(fake, "PUT", "/system")
    assert update.form == {"version": "20250101000000", "count": "5"}
    assert connected.status == "updating"


def test_a_v3_rack_answering_501_to_an_update_is_said_clearly(start_fake, org, owner):
    from racks.connect import connect_rack

    fake = start_fake(generation=3)
    rack = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner).rack
    rack.generation = "2"  # as if the rack had said it were v2: the 501 itself is read
    with pytest.raises(RackError, match="does not support updates"):
        driver_for(rack).update_rack(rack, version="3.25.0")


def test_error_forms_json_text_and_bare_status(fake, connected):
    from racks.convox import api_for

    api = api_for(connected)
    with pytest.raises(RackError, match=r"app not found: ghost \(HTTP 404\)"):
        api.read("/apps/ghost")
    with pytest.raises(RackError, match=r"response status 404"):
        api.read("/no/such/route")
    missing = [r for r in fake.requests if r.path == "/apps/ghost"][0]
    assert "application/json" in missing.headers["accept"]


def test_a_password_that_no_longer_works_is_said(fake, connected):
    fake.password = "rotated"
    with pytest.raises(RackError, match="refused the password"):
        driver_for(connected).create_app(connected, "web")


def test_an_app_past_the_racks_cap_is_refused_before_the_rack_makes_it(
        fake, connected, settings):
    settings.MAX_APPS_PER_RACK = 0
    with pytest.raises(RackError, match="MAX_APPS_PER_RACK"):
        driver_for(connected).create_app(connected, "web")
    assert not sent(fake, "POST", "/apps")


def test_an_answer_too_large_or_not_json_is_said(fake, connected, settings):
    from racks.convox import api_for

    api = api_for(connected)
    with pytest.raises(RackError, match="not JSON"):
        api.read("/auth")  # answers ok, as an action does
    settings.RACK_MAX_RESPONSE_BYTES = 50
    with pytest.raises(RackError, match="larger than RACK_MAX_RESPONSE_BYTES"):
        api.read("/system")


def test_a_rack_that_stops_answering_is_said_unreachable(fake, connected):
    fake.stop()
    with pytest.raises(RackError, match="could not be reached"):
        driver_for(connected).create_app(connected, "web")
