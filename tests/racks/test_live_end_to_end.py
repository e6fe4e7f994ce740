"""A connected rack, end to end: a member's browser socket is open, the owner acts on the
rack from the console, and the rack's own webhook brings the notification to the socket
live, through the ingest URL and the one pipeline (the driver emits nothing itself)."""

import pytest
from asgiref.sync import sync_to_async

from racks.connect import connect_rack
from racks.drivers import driver_for
from tests.live.test_consumer import _close_worker_connections, opened  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("generation", [2, 3], ids=["v2", "v3"])
async def test_a_member_sees_the_racks_own_event_arrive_live(
        start_fake, live_server, org, owner, member, settings, generation):
    settings.CONSOLE_URL = live_server.url
    key = "cd" * 32
    fake = start_fake(generation=generation, name="real",
                      signing_key=key if generation == 3 else "")

    def connect():
        rack = connect_rack(org, "real", host=fake.url, password=fake.password,
                            user=owner).rack
        if generation == 3:  # the owner ran the command the console showed, then saved it
            rack.webhook_signing_key = key
            rack.save()
        return rack

    rack = await sync_to_async(connect)()
    socket = await opened(member)
    await sync_to_async(driver_for(rack).create_app)(rack, "web")

    while True:  # the connect itself may be reported first (the webhook resource)
        message = await socket.receive_json_from(timeout=10)
        if message["type"] == "notification" and message["notification"]["app"] == "web":
            break
    item = message["notification"]
    assert item["message"] == "[real] Created app web"
    assert item["source"] == "rack" and item["rack"] == rack.pk and not item["read"]
    await socket.disconnect()
