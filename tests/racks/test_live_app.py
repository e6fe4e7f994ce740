"""A page watching an app of a connected rack is told when the app's status or formation
changes, even when no notification says so: a sync found it, a scale, a promote followed
until it ends (notifications.live.push.broadcast_app)."""

import pytest
from asgiref.sync import sync_to_async

from racks import sync
from racks.drivers import driver_for
from racks.models import App
from tests.helpers import wait_for
from tests.live.test_consumer import _close_worker_connections, open_socket  # noqa: F401
from tests.racks.test_convox_driver import tarball_source

pytestmark = pytest.mark.django_db(transaction=True)


async def watching(user, rack, app: str):
    socket, connected, _ = await open_socket(user)
    assert connected
    await socket.send_json_to({"type": "watch", "app": f"{rack.pk}/{app}"})
    await next_of(socket, "watching")
    return socket


async def next_of(socket, kind: str) -> dict:
    while True:
        message = await socket.receive_json_from(timeout=5)
        if message["type"] == kind:
            return message


async def test_a_watcher_hears_a_status_a_sync_found(fake, connected, member):
    fake.create_app({"name": "shop"})
    # Settled: a v3 app runs at once, and its creation ends (running again) a moment later.
    wait_for(fake.settled, what="the app's creation finished on the rack")
    await sync_to_async(sync.run_sync)(connected.pk)
    socket = await watching(member, connected, "shop")
    fake.apps["shop"]["status"] = "updating"  # and the rack's webhook was lost
    await sync_to_async(sync.run_sync)(connected.pk)
    assert await next_of(socket, "app_state") == {"type": "app_state", "status": "updating"}
    # A sync that finds nothing new says nothing.
    await sync_to_async(sync.run_sync)(connected.pk)
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_a_watcher_hears_a_scale_and_a_promote_followed(fake, connected, member):
    def released() -> str:
        app = driver_for(connected).create_app(connected, "web")
        wait_for(fake.settled, what="the rack finished what it started")
        build = driver_for(connected).start_build(app, source=tarball_source())
        wait_for(lambda: sync.follow_build_step(build.id) is None, what="the build ended")
        return app.releases.get().id
    release_id = await sync_to_async(released)()
    socket = await watching(member, connected, "web")

    def promote() -> None:
        fake.settle_seconds = 1.0  # long enough to be read while it rolls out
        driver_for(connected).promote(App.objects.get(name="web").releases.get())
        sync.follow_promote_step(release_id)
    await sync_to_async(promote)()
    assert (await next_of(socket, "app_state"))["status"] == "updating"
    await sync_to_async(lambda: wait_for(lambda: sync.follow_promote_step(release_id) is None))()
    assert (await next_of(socket, "app_state"))["status"] == "running"

    await sync_to_async(lambda: driver_for(connected).scale(
        App.objects.get(name="web"), "web", 2))()
    assert (await next_of(socket, "app_state"))["status"] == "running"
    await socket.disconnect()


def test_the_app_page_has_its_status_and_formation_in_live_parts(fake, connected,
                                                                 client_for, member):
    fake.create_app({"name": "shop"})
    sync.run_sync(connected.pk)
    page = client_for("member").get(f"/racks/{connected.pk}/apps/shop/").content.decode()
    status = page.index('data-live-part="status"')
    assert status < page.index("data-app-status") < page.index("</h1>")
    assert 'data-live-part="formation"' in page
