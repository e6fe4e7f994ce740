"""The Django admin acts on racks through their driver: what a rack refuses is said on the
page, never a server error, and a bulk delete goes through the driver too."""

import pytest
from django.test import Client

from notifications.models import Notification
from racks.local import LocalRack
from racks.models import App


@pytest.fixture
def staff(client_for, make_user) -> Client:
    return client_for(make_user("root", is_staff=True, is_superuser=True))


def said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_app_past_the_racks_cap_is_refused_on_the_admin_page(staff, rack, settings):
    settings.MAX_APPS_PER_RACK = 1
    LocalRack().create_app(rack, "first")
    response = staff.post("/admin/racks/app/add/", {"rack": rack.pk, "name": "second"},
                          follow=True)
    assert response.status_code == 200
    assert any(text.startswith("The rack refused:") for text in said(response))
    assert list(App.objects.values_list("name", flat=True)) == ["first"]


def test_an_app_added_in_the_admin_is_an_event_like_any_other(staff, rack):
    staff.post("/admin/racks/app/add/", {"rack": rack.pk, "name": "web"})
    assert App.objects.filter(rack=rack, name="web").exists()
    assert Notification.objects.filter(rack=rack, action="app:create").exists()


def test_a_bulk_delete_goes_through_the_driver(staff, rack):
    apps = [LocalRack().create_app(rack, name) for name in ("one", "two")]
    staff.post("/admin/racks/app/", {"action": "delete_selected", "post": "yes",
                                     "_selected_action": [a.pk for a in apps]})
    assert not App.objects.exists()
    assert Notification.objects.filter(rack=rack, action="app:delete").count() == 2
