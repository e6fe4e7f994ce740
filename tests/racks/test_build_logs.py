"""A connected rack's build logs, streamed live from the rack's logs websocket
(`SOCKET /apps/{app}/builds/{id}/logs`) by the build's one reader, its follow task, and
out to every page watching the build; polling when the rack has no such socket."""

import base64
import ipaddress

import pytest
from asgiref.sync import sync_to_async

from console.outbound import safety
from racks import sync
from racks.convox import api_for
from racks.driver import RackError
from racks.drivers import driver_for
from racks.models import App, Build, BuildStatus
from racks.rack_api import RackAPI, RackUnreachable, WrongPassword
from racks.signals import build_changed
from tests.helpers import wait_for, wait_for_async
from tests.live.test_consumer import _close_worker_connections, opened  # noqa: F401
from tests.live.test_watch import next_of, watch
from tests.racks.test_convox_driver import tarball, tarball_source


def held_build(fake, app) -> Build:
    """A build the rack keeps running until the test finishes it."""
    fake.hold_builds = True
    build = driver_for(app.rack).start_build(app, source=tarball_source())
    wait_for(lambda: fake.builds[build.id]["status"] == "running", what="the build runs")
    return build


def rack_logs(fake, build: Build) -> str:
    return fake.objects[f"{build.app.name}/build/{build.id}/logs"].decode()


def sockets(fake, build: Build) -> list:
    """The logs sockets the rack was asked for."""
    return [r for r in fake.requests
            if r.path == f"/apps/web/builds/{build.id}/logs" and r.headers.get("upgrade")]


def follow(api: RackAPI, build: Build, seconds: float = 5.0):
    return api.follow_logs(f"/apps/web/builds/{build.id}/logs", seconds=seconds, tick=0.05)


# The rack's logs socket, as RackAPI reads it


def test_the_logs_socket_sends_each_line_as_it_is_written_then_its_end(fake, connected, app):
    build = held_build(fake, app)
    stream = follow(api_for(connected), build)
    assert next(stream) == "Building: .\n"
    fake.build_log(build.id, "Step 1/2 : FROM scratch")
    assert next(text for text in stream if text) == "Step 1/2 : FROM scratch\n"
    fake.finish_build(build.id)
    rest = "".join(text for text in stream if text)  # the stream ends with the build
    assert rest.startswith("Build complete: release R")
    [opened_socket] = sockets(fake, build)
    assert opened_socket.method == "GET" and opened_socket.headers["follow"] == "true"
    assert opened_socket.headers["upgrade"].lower() == "websocket"
    token = base64.b64encode(f"convox:{fake.password}".encode()).decode()
    assert opened_socket.headers["authorization"] == f"Basic {token}"


def test_the_rack_keeps_answering_while_a_logs_socket_is_open(fake, connected, app):
    build = held_build(fake, app)
    stream = follow(api_for(connected), build)
    assert next(stream) == "Building: .\n"
    assert api_for(connected).read(f"/apps/web/builds/{build.id}")["status"] == "running"
    stream.close()


def test_a_logs_socket_failure_an_unknown_build_and_a_wrong_password_are_rack_errors(
        fake, connected, app):
    build = held_build(fake, app)
    fake.logs_error = "log stream unavailable"
    with pytest.raises(RackError, match="logs of .* failed: log stream unavailable"):
        list(follow(api_for(connected), build))
    with pytest.raises(RackError, match=r"build not found: BNOSUCHBLD \(HTTP 404\)"):
        list(follow(api_for(connected), Build(id="BNOSUCHBLD", app=app)))
    wrong = RackAPI(connected.host, "not-the-password")
    with pytest.raises(WrongPassword, match="refused the password"):
        list(follow(wrong, build))


def test_a_pinned_self_signed_racks_logs_socket_and_a_wrong_pin(start_fake):
    fake = start_fake(generation=3, tls=True)
    fake.create_app({"name": "web"})
    fake.objects["web/tmp/src.tgz"] = tarball()
    made = fake.create_build("web", {"url": "object://web/tmp/src.tgz"})
    wait_for(lambda: fake.builds[made["id"]]["status"] == "complete")
    build = Build(id=made["id"], app=App(name="web"))
    pinned = RackAPI(fake.url, fake.password, fake.fingerprint)
    assert "".join(text for text in follow(pinned, build) if text) == rack_logs(fake, build)

    fake.requests.clear()
    wrong = RackAPI(fake.url, fake.password, "sha256:" + "0" * 64)
    with pytest.raises(RackUnreachable, match="is not the pinned one"):
        list(follow(wrong, build))
    unpinned = RackAPI(fake.url, fake.password)
    with pytest.raises(RackUnreachable, match="not trusted.*pinning its certificate"):
        list(follow(unpinned, build))
    # Refused at the TLS handshake: no request, and so no Authorization header, was sent.
    assert not fake.requests


def test_a_logs_socket_on_a_private_address_is_refused_unless_allowed(
        start_fake, settings, monkeypatch):
    fake = start_fake(generation=2)
    monkeypatch.setattr(safety, "resolve", lambda host, port: [
        ipaddress.ip_address("127.0.0.1")])
    api = RackAPI(f"http://rack.internal.test:{fake.port}", fake.password)
    build = Build(id="BNOSUCHBLD", app=App(name="web"))
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(RackError, match="may not connect.*private or reserved address"):
        list(follow(api, build))
    assert not fake.requests  # refused before connecting
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(RackError, match="app not found: web"):  # the rack answered
        list(follow(api, build))


# The build's follow task: one reader, fanned out to the pages watching


@pytest.mark.django_db(transaction=True)
async def test_a_member_watching_the_build_sees_its_logs_before_it_ends(
        fake, connected, app, member, celery_worker):
    build = await sync_to_async(held_build)(fake, app)
    socket = await opened(member)
    assert (await watch(socket, build=build.id))["build"]["id"] == build.id
    await wait_for_async(lambda: sockets(fake, build), what="the logs socket was opened")

    fake.build_log(build.id, "Step 1/2 : FROM scratch")
    while "Step 1/2 : FROM scratch\n" not in (update := await next_of(socket, "build"))["logs"]:
        pass
    assert update["build"]["status"] == "running"
    assert fake.builds[build.id]["status"] == "running"  # it has not ended

    await sync_to_async(fake.finish_build)(build.id)
    while (update := await next_of(socket, "build"))["build"]["status"] == "running":
        pass
    assert update["build"]["status"] == "complete"
    stored = await sync_to_async(Build.objects.get)(pk=build.id)
    assert stored.logs == rack_logs(fake, build)
    await socket.disconnect()


def test_reconnecting_skips_what_is_stored_so_no_line_is_doubled(
        fake, connected, app, settings, celery_worker):
    settings.RACK_LOGS_STREAM_SECONDS = 0.3  # a socket per step: several while it runs
    told: list[str] = []

    def heard(sender, build, appended_logs, **kwargs) -> None:
        told.append(appended_logs)
    build_changed.connect(heard, weak=False)
    try:
        build = held_build(fake, app)
        for step in range(3):  # each line written after a new socket replayed the others
            seen, line = len(sockets(fake, build)), f"Step {step}\n"
            wait_for(lambda seen=seen: len(sockets(fake, build)) > seen,
                     what="the socket reconnected")
            fake.build_log(build.id, line.strip())
            wait_for(lambda line=line: Build.objects.get(pk=build.id).logs.endswith(line),
                     what=f"{line.strip()} was stored")
        running = Build.objects.get(pk=build.id)
        assert running.status == BuildStatus.RUNNING
        assert running.logs == rack_logs(fake, build)  # before its end: nothing doubled
        fake.finish_build(build.id)
        wait_for(lambda: Build.objects.get(pk=build.id).status == BuildStatus.COMPLETE)
    finally:
        build_changed.disconnect(heard)
    assert Build.objects.get(pk=build.id).logs == rack_logs(fake, build)
    assert "".join(told) == rack_logs(fake, build)  # the watchers heard each line once


@pytest.mark.parametrize("rack_fails", ["no logs route", "an ERROR message"])
def test_without_a_working_logs_socket_the_build_is_polled_and_its_logs_arrive_at_its_end(
        fake, connected, app, celery_worker, rack_fails, monkeypatch):
    monkeypatch.setattr(sync, "BUILD_POLL_SECONDS", 0.2)
    if rack_fails == "no logs route":
        fake.logs_route = False
    else:
        fake.logs_error = "log stream unavailable"
    build = held_build(fake, app)
    wait_for(lambda: sockets(fake, build), what="the logs socket was asked for")
    fake.build_log(build.id, "Step 1/2 : FROM scratch")
    polls = len([r for r in fake.requests if r.path == f"/apps/web/builds/{build.id}"])
    wait_for(lambda: len([r for r in fake.requests
                          if r.path == f"/apps/web/builds/{build.id}"]) > polls + 1,
             what="the build was polled")
    fake.finish_build(build.id)
    wait_for(lambda: Build.objects.get(pk=build.id).status == BuildStatus.COMPLETE)
    assert Build.objects.get(pk=build.id).logs == rack_logs(fake, build)
    assert "Step 1/2 : FROM scratch\n" in rack_logs(fake, build)
