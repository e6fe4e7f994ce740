"""The app page shows an app's environment as the API does: viewers read its names,
members and up its values (racks.env.env_as_seen)."""

import pytest

from racks.local import LocalRack
from racks.models import Release

READS_VALUES = {"owner": True, "admin": True, "member": True, "viewer": False}
SECRET = "postgres://app:s3cr3t-pa55@db.internal/shop"


@pytest.fixture
def release(rack) -> Release:
    app = LocalRack().create_app(rack, "web")
    return LocalRack().set_env(app, {"DATABASE_URL": SECRET, "GREETING": "hello"})


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_the_app_page_shows_values_to_members_and_up_and_names_to_viewers(
        client_for, owner, admin, member, viewer, rack, release, role):
    response = client_for(role).get(f"/racks/{rack.pk}/apps/web/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "DATABASE_URL" in html and "GREETING" in html
    assert (SECRET in html) is READS_VALUES[role]
    assert ("hello" in html) is READS_VALUES[role]


def test_an_outsider_gets_no_app_page(client_for, outsider, rack, release):
    response = client_for("outsider").get(f"/racks/{rack.pk}/apps/web/")
    assert response.status_code == 404 and SECRET not in response.content.decode()
