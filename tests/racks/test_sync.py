"""Staying in sync with a connected rack: what a lost webhook missed, an unreachable rack
(told once, and again when it is back), backoff, and the events of a real rack arriving
through its webhook."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery, FeedEntry, Notification, Source
from racks import sync
from racks.connect import connect_rack
from racks.drivers import driver_for
from racks.models import App, Build, Formation, Rack, Release, Resource
from tests.helpers import wait_for
from tests.live.test_actions import error_beside
from tests.racks.test_convox_driver import tarball


def messages(rack) -> list[str]:
    return list(Notification.objects.filter(rack=rack).order_by("id")
                .values_list("message", flat=True))


def test_a_sync_models_what_the_rack_did_without_telling(fake, connected):
    # The rack's webhooks were lost: the console hears nothing of these.
    fake.resources.clear()
    fake.create_app({"name": "shop"})
    wait_for(fake.settled, what="the rack finished what it started")
    fake.upload("shop", "tmp/src.tgz", tarball())
    build = fake.create_build("shop", {"url": "object://shop/tmp/src.tgz"})
    wait_for(lambda: build["status"] == "complete")
    fake.promote("shop", build["release"], {})
    wait_for(lambda: fake.apps["shop"]["release"] == build["release"])
    if fake.generation == 2:
        fake.create_resource({"kind": "redis", "name": "cache"})
    sync.run_sync(connected.pk)
    app = App.objects.get(rack=connected, name="shop")
    assert Build.objects.get(pk=build["id"], app=app).status == "complete"
    assert Release.objects.get(pk=build["release"]).active
    assert Formation.objects.filter(app=app, process="web").exists()
    assert list(connected.resources.values_list("name", flat=True)) == (
        ["cache"] if fake.generation == 2 else [])
    connected.refresh_from_db()
    assert connected.synced_at is not None and connected.sync_failures == 0
    # Gone from the rack: gone from the console.
    fake.apps.clear()
    fake.resources.clear()
    sync.run_sync(connected.pk)
    assert not App.objects.exists() and not Resource.objects.exists()


def test_the_consoles_own_webhook_is_not_shown_as_a_resource(fake, connected):
    sync.run_sync(connected.pk)
    assert not Resource.objects.filter(name=connected.webhook_resource).exists()


def test_a_v3_rack_keeps_count_and_type_not_reported(fake, connected):
    sync.run_sync(connected.pk)
    connected.refresh_from_db()
    if fake.generation == 3:
        assert (connected.instance_count, connected.instance_type) == (None, "")
    else:
        assert (connected.instance_count, connected.instance_type) == (3, "t3.small")


def test_an_unreachable_rack_is_marked_and_its_members_told_once_then_again_when_back(
        fake, connected, owner, member, settings):
    settings.RACK_UNREACHABLE_AFTER = 3
    fake.stop()
    for _ in range(5):
        sync.run_sync(connected.pk)
    connected.refresh_from_db()
    assert connected.unreachable_since is not None and connected.sync_failures == 5
    assert "could not be reached" in connected.unreachable_error
    [down] = Notification.objects.filter(rack=connected, action="rack:unreachable")
    assert down.message.startswith("[real] Rack unreachable: The rack at ")
    assert down.source == Source.CONSOLE and down.severity == "error"
    assert FeedEntry.objects.filter(notification=down, user=member).exists()
    # And by email, as the catalogue's default for this event type says.
    assert Delivery.objects.filter(notification=down, user=member, channel="email").exists()
    fake.start()
    sync.run_sync(connected.pk)
    sync.run_sync(connected.pk)
    connected.refresh_from_db()
    assert connected.unreachable_since is None and connected.sync_failures == 0
    assert messages(connected)[-1] == "[real] Rack reachable again"
    assert Notification.objects.filter(rack=connected, action="rack:reachable").count() == 1


def test_a_rack_that_fails_less_than_the_threshold_tells_nobody(fake, connected, settings):
    settings.RACK_UNREACHABLE_AFTER = 3
    fake.stop()
    sync.run_sync(connected.pk)
    sync.run_sync(connected.pk)
    fake.start()
    sync.run_sync(connected.pk)
    assert not Notification.objects.filter(rack=connected).exists()


def test_an_unreachable_rack_is_read_less_and_less_often(fake, connected, settings):
    settings.RACK_SYNC_INTERVAL_SECONDS = 60
    settings.RACK_SYNC_MAX_BACKOFF_SECONDS = 600
    fake.stop()
    waits = []
    for _ in range(6):
        sync.run_sync(connected.pk)
        connected.refresh_from_db()
        waits.append(round((connected.next_sync_at - timezone.now()).total_seconds(), -1))
    assert waits == [120, 240, 480, 600, 600, 600]


def test_due_racks_are_claimed_once(fake, connected, rack):
    Rack.objects.filter(pk=connected.pk).update(next_sync_at=timezone.now() - timedelta(1))
    assert sync.due_racks() == [connected.pk]
    assert sync.due_racks() == []  # moved on by a full interval; the local rack never


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("generation", [2, 3])
def test_the_racks_own_events_arrive_through_its_webhook(
        start_fake, live_server, org, owner, settings, generation):
    settings.CONSOLE_URL = live_server.url
    key = "ab" * 32
    fake = start_fake(generation=generation, name="real",
                      signing_key=key if generation == 3 else "")
    connected = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    if generation == 3:  # the person ran the command shown, then saved the key
        connected.rack.webhook_signing_key = key
        connected.rack.save()
    driver_for(connected.rack).create_app(connected.rack, "web")
    wait_for(lambda: "[real] Created app web" in messages(connected.rack),
             what="the rack's app:create event arrived")
    assert Notification.objects.get(action="app:create").source == Source.RACK
    # The rack records the answer once the console has sent it.
    wait_for(lambda: all(d.status == 202 for d in fake.deliveries),
             what="every envelope answered 202")


def test_the_apps_status_is_what_the_rack_last_said(fake, connected, client_for, member):
    fake.create_app({"name": "shop"})
    wait_for(fake.settled, what="the rack finished what it started")  # created, then it updates
    fake.apps["shop"]["status"] = "updating"
    sync.run_sync(connected.pk)
    assert App.objects.get(name="shop").status == "updating"
    page = client_for("member").get(f"/racks/{connected.pk}/apps/shop/")
    assert b"data-app-status" in page.content and b"updating" in page.content


def env_on_page(client, rack, app: str) -> str:
    page = client.get(f"/racks/{rack.pk}/apps/{app}/")
    assert page.status_code == 200
    return page.context["env_form"]["env"].value()


def test_a_sync_reads_the_environment_the_rack_has(fake, connected, client_for, member):
    fake.create_app({"name": "shop"})
    fake.create_release("shop", {"env": "OLD=0\n"})
    latest = fake.create_release("shop", {"env": "OTHER=2\nSECRET=1\n"})
    sync.run_sync(connected.pk)
    # A v2 rack's release list leaves env empty: the sync reads the latest release itself.
    assert Release.objects.get(pk=latest["id"]).env == {"OTHER": "2", "SECRET": "1"}
    assert env_on_page(client_for("member"), connected, "shop") == "OTHER=2\nSECRET=1"


def test_saving_an_environment_the_console_does_not_know_replaces_nothing(
        fake, connected, client_for, member):
    fake.create_app({"name": "shop"})
    fake.create_release("shop", {"env": "SECRET=1\n"})
    sync.run_sync(connected.pk)
    # Set on the rack, and its webhook lost: the console still shows SECRET alone.
    fake.create_release("shop", {"env": "OTHER=2\nSECRET=1\n"})
    made = len(fake.releases)
    client = client_for("member")
    refused = client.post(f"/racks/{connected.pk}/apps/shop/env/", {"env": "SECRET=3"})
    assert refused.status_code == 400
    assert "not the one this console showed" in error_beside(refused.content.decode(), "env-env")
    assert "SECRET=3" in refused.content.decode()  # what was typed is kept
    assert len(fake.releases) == made
    # Reloaded, the page starts from the rack's environment, and saving keeps OTHER.
    assert env_on_page(client, connected, "shop") == "OTHER=2\nSECRET=1"
    saved = client.post(f"/racks/{connected.pk}/apps/shop/env/", {"env": "OTHER=2\nSECRET=3"})
    assert saved.status_code == 302
    latest = max(fake.releases.values(), key=lambda r: r["serial"])
    assert latest["env"] == "OTHER=2\nSECRET=3\n"


def test_one_row_the_model_refuses_does_not_stop_the_sync(fake, connected, org, owner):
    fake.create_app({"name": "shop"})
    fake.upload("shop", "tmp/src.tgz", tarball())
    build = fake.create_build("shop", {"url": "object://shop/tmp/src.tgz"})
    wait_for(lambda: build["status"] == "complete")
    # The same build id already belongs to another app of the console.
    other = App.objects.create(rack=connected, name="other")
    fake.create_app({"name": "other"})
    Build.objects.create(id=build["id"], app=other)
    sync.run_sync(connected.pk)
    connected.refresh_from_db()
    assert connected.sync_failures == 0
    assert Release.objects.filter(pk=build["release"], app__name="shop").exists()
    assert Build.objects.get(pk=build["id"]).app == other


def test_a_sync_that_fails_in_the_console_is_counted(fake, connected, monkeypatch):
    def broken(rack, resources):
        raise ValueError("a bug")
    monkeypatch.setattr(sync, "_apply_resources", broken)
    sync.run_sync(connected.pk)
    connected.refresh_from_db()
    assert connected.sync_failures == 1
    assert "could not apply what the rack said (ValueError)" in connected.unreachable_error


def test_a_save_from_a_page_read_before_a_sync_found_a_new_environment_replaces_nothing(
        fake, connected, client_for, member):
    fake.create_app({"name": "shop"})
    fake.create_release("shop", {"env": "SECRET=1\n"})
    sync.run_sync(connected.pk)
    client = client_for("member")
    based_on = client.get(f"/racks/{connected.pk}/apps/shop/").context["env_form"]["based_on"]
    # Set on the rack with the CLI, and a sync reads it, while the page stays open.
    newer = fake.create_release("shop", {"env": "OTHER=2\nSECRET=1\n"})
    sync.run_sync(connected.pk)
    made = len(fake.releases)
    refused = client.post(f"/racks/{connected.pk}/apps/shop/env/",
                          {"env": "SECRET=3", "based_on": based_on.value()})
    assert refused.status_code == 400
    assert f"was changed (release {newer['id']})" in error_beside(
        refused.content.decode(), "env-env")
    assert len(fake.releases) == made
