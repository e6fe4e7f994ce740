"""Opening a notification from the feed marks it read and lands on what it is about,
without JavaScript (console.views.reading)."""

import pytest

from notifications.envelope import Envelope
from notifications.models import FeedEntry, Notification
from notifications.pipeline import record_event
from racks.local import LocalRack

pytestmark = pytest.mark.django_db


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


def is_read(user, notification) -> bool:
    return FeedEntry.objects.get(user=user, notification=notification).read


def test_a_member_opens_a_failed_build_and_it_is_read(client_for, member, rack):
    failed = rack_event(rack, "build:create", "error", app="shop", id="BAAAAAAAAAA")
    answer = client_for("member").get(f"/notifications/{failed.pk}/open/")
    assert answer.status_code == 302
    assert answer["Location"] == f"/racks/{rack.pk}/apps/shop/builds/BAAAAAAAAAA/"
    assert is_read(member, failed)


@pytest.mark.parametrize(("data", "where"), [
    ({"app": "shop", "id": "RAAAAAAAAAA"}, "/apps/shop/#release-RAAAAAAAAAA"),
    ({"app": "shop"}, "/apps/shop/"),
    ({}, "/"),
])
def test_an_item_leads_to_its_release_app_or_rack(client_for, viewer, rack, data, where):
    notification = rack_event(rack, "release:create" if "id" in data else "app:create", **data)
    answer = client_for("viewer").get(f"/notifications/{notification.pk}/open/")
    assert answer["Location"] == f"/racks/{rack.pk}{where}"
    assert is_read(viewer, notification)


def test_an_item_of_the_racks_history_outside_the_feed_opens_without_a_mark(
        client_for, member, rack):
    notification = rack_event(rack, app="shop")
    FeedEntry.objects.filter(user=member).delete()
    answer = client_for("member").get(f"/notifications/{notification.pk}/open/")
    assert answer.status_code == 302 and not FeedEntry.objects.filter(user=member).exists()


def test_an_outsider_and_a_stranger_cannot_open_it(client_for, outsider, rack):
    notification = rack_event(rack, app="shop")
    assert client_for("outsider").get(f"/notifications/{notification.pk}/open/").status_code == 404
    answer = client_for("anonymous").get(f"/notifications/{notification.pk}/open/")
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    assert client_for("outsider").post(f"/notifications/{notification.pk}/open/").status_code == 405


def test_the_feed_page_links_each_item_and_its_template_to_the_open_view(client_for, member,
                                                                        rack):
    LocalRack().create_app(rack, "shop")
    created = Notification.objects.get(action="app:create")
    page = client_for("member").get("/").content.decode()
    assert f'<a class="message" dir="auto" href="/notifications/{created.pk}/open/">' in page
    template = page[page.index("<template data-item-template"):]
    assert '<a class="message" dir="auto" href="/notifications/0/open/">' in template
    assert 'data-api="/api/v1/notifications/"' in page
