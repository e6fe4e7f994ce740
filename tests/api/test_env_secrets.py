"""An app's environment holds secrets: viewers read its names, members and up its values,
in the API and on the app page alike."""

import pytest

from racks.local import LocalRack
from racks.models import App, Release

ROLES = ["owner", "admin", "member", "viewer", "outsider", "anonymous"]
READS_VALUES = {"owner": True, "admin": True, "member": True, "viewer": False}
SECRET = "postgres://app:s3cr3t-pa55@db.internal/shop"


@pytest.fixture
def app(rack) -> App:
    return LocalRack().create_app(rack, "web")


@pytest.fixture
def release(app) -> Release:
    return LocalRack().set_env(app, {"DATABASE_URL": SECRET, "GREETING": "hello"})


def expected_env(role: str) -> dict[str, str | None]:
    if READS_VALUES[role]:
        return {"DATABASE_URL": SECRET, "GREETING": "hello"}
    return {"DATABASE_URL": None, "GREETING": None}


@pytest.mark.parametrize("role", ROLES)
def test_a_release_shows_its_values_to_members_and_up_and_its_names_to_viewers(
        people, client_for, rack, release, role):
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/web/releases/{release.id}/")
    if role == "outsider":
        assert response.status_code == 404
    elif role == "anonymous":
        assert response.status_code == 401
    else:
        assert response.status_code == 200
        assert response.json()["env"] == expected_env(role)
    if not READS_VALUES.get(role):
        assert SECRET not in response.content.decode()


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_the_release_list_follows_the_same_rule(people, client_for, rack, release, role):
    body = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/web/releases/").json()
    (listed,) = body["results"]
    assert listed["env"] == expected_env(role)


def test_a_member_setting_the_environment_reads_back_the_values(member, rack, app,
                                                                client_for):
    response = client_for(member).post(f"/api/v1/racks/{rack.pk}/apps/web/releases/",
                                       {"env": {"TOKEN": "abc"}}, format="json")
    assert response.status_code == 201 and response.json()["env"] == {"TOKEN": "abc"}


def test_promoting_answers_the_values_to_the_member_who_may_read_them(member, rack, release,
                                                                     client_for):
    url = f"/api/v1/racks/{rack.pk}/apps/web/releases/{release.id}/promote/"
    response = client_for(member).post(url)
    assert response.status_code == 200 and response.json()["env"]["DATABASE_URL"] == SECRET
