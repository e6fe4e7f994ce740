"""Racks: who sees them, who adds, changes and deletes them, and their ingest URL."""

import pytest

from notifications.models import Notification
from racks.models import Rack

ROLES = ["owner", "admin", "member", "viewer", "outsider", "anonymous"]
READERS = {"owner": 200, "admin": 200, "member": 200, "viewer": 200, "outsider": 404,
           "anonymous": 401}
MANAGERS = {"owner": 200, "admin": 200, "member": 403, "viewer": 403, "outsider": 404,
            "anonymous": 401}
KEY = "c3" * 32


@pytest.mark.parametrize("role", ROLES)
def test_each_user_lists_the_racks_of_their_organizations(people, client_for, rack, other_rack,
                                                          role):
    response = client_for(role).get("/api/v1/racks/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    names = [r["name"] for r in response.json()["results"]]
    assert names == (["globex-prod"] if role == "outsider" else ["production"])


@pytest.mark.parametrize("role", ROLES)
def test_rack_detail_by_role(people, client_for, rack, role):
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        body = response.json()
        assert body["organization"] == "acme" and body["count"] == 3
        assert body["signed"] is False and "webhook_signing_key" not in body


@pytest.mark.parametrize("role, sees_url", [("owner", True), ("admin", True),
                                            ("member", True), ("viewer", False)])
def test_the_ingest_url_is_shown_to_those_who_act_not_to_viewers(people, client_for, rack,
                                                                 role, sees_url):
    body = client_for(role).get(f"/api/v1/racks/{rack.pk}/").json()
    expected = f"http://testserver/ingest/{rack.ingest_token}/" if sees_url else None
    assert body["ingest_url"] == expected
    (listed,) = client_for(role).get("/api/v1/racks/").json()["results"]
    assert listed["ingest_url"] == expected


def test_the_ingest_url_it_shows_accepts_events(owner, rack, client_for):
    url = client_for(owner).get(f"/api/v1/racks/{rack.pk}/").json()["ingest_url"]
    response = client_for("anonymous").post(url, b'{"action":"app:create","data":{"app":"x"}}',
                                     content_type="application/json")
    assert response.status_code == 202


@pytest.mark.parametrize("role", ROLES)
def test_adding_a_rack_by_role(people, client_for, role):
    response = client_for(role).post("/api/v1/racks/", {"organization": "acme", "name": "staging"},
                                  format="json")
    expected = {"owner": 201, "admin": 201, "member": 403, "viewer": 403, "outsider": 404,
                "anonymous": 401}[role]
    assert response.status_code == expected
    assert Rack.objects.filter(name="staging").exists() == (expected == 201)
    if expected == 201:
        body = response.json()
        assert body["organization"] == "acme" and body["ingest_url"].startswith("http://")


@pytest.mark.parametrize("body, reason", [
    ({"organization": "acme", "name": "production"}, "already exists in Acme"),
    ({"organization": "acme", "name": "Bad Name"}, "Lower-case letters"),
    ({"organization": "acme"}, "required"),
])
def test_adding_a_rack_explains_a_mistake(owner, rack, client_for, body, reason):
    response = client_for(owner).post("/api/v1/racks/", body, format="json")
    assert response.status_code == 400
    assert reason in str(response.json())


@pytest.mark.parametrize("slug", ["globex", "nowhere"])
def test_adding_a_rack_to_an_organization_you_are_not_in_is_not_found(owner, other_org,
                                                                      client_for, slug):
    response = client_for(owner).post("/api/v1/racks/", {"organization": slug, "name": "x"},
                                      format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such organization."}
    assert not Rack.objects.filter(name="x").exists()


@pytest.mark.parametrize("role", ROLES)
def test_setting_signing_keys_by_role(people, client_for, rack, role):
    response = client_for(role).patch(f"/api/v1/racks/{rack.pk}/",
                                   {"webhook_signing_key": KEY}, format="json")
    assert response.status_code == MANAGERS[role]
    rack.refresh_from_db()
    assert (rack.webhook_signing_key == KEY) == (response.status_code == 200)
    if response.status_code == 200:
        assert response.json()["signed"] is True
        assert KEY not in response.content.decode()


def test_signing_keys_can_be_rotated_and_cleared(owner, rack, client_for):
    client = client_for(owner)
    url = f"/api/v1/racks/{rack.pk}/"
    two = f"{KEY},{'d4' * 32}"
    assert client.patch(url, {"webhook_signing_key": two}, format="json").status_code == 200
    assert Rack.objects.get(pk=rack.pk).signing_keys == [bytes.fromhex(k)
                                                        for k in two.split(",")]
    cleared = client.patch(url, {"webhook_signing_key": ""}, format="json")
    assert cleared.json()["signed"] is False


@pytest.mark.parametrize("value", ["nothex", "AB" * 32, "ab" * 16, ",".join([KEY] * 5),
                                   "a" * 65])
def test_a_bad_signing_key_is_refused_and_changes_nothing(owner, rack, client_for, value):
    response = client_for(owner).patch(f"/api/v1/racks/{rack.pk}/",
                                       {"webhook_signing_key": value}, format="json")
    assert response.status_code == 400
    assert "webhook_signing_key" in response.json()
    assert Rack.objects.get(pk=rack.pk).webhook_signing_key == ""


def test_changing_version_count_and_type_goes_through_the_rack(owner, rack, client_for):
    response = client_for(owner).patch(f"/api/v1/racks/{rack.pk}/", {
        "version": "3.25.0", "count": 5, "instance_type": "t3.large"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["count"], body["instance_type"]) == ("3.25.0", 5, "t3.large")
    notification = Notification.objects.get(action="rack:update")
    assert notification.message == ("[production] Updating rack to: version 3.25.0, count 5, "
                                    "instance type t3.large")


@pytest.mark.parametrize("role", ROLES)
def test_an_update_that_changes_nothing_is_refused(people, client_for, rack, role):
    response = client_for(role).patch(f"/api/v1/racks/{rack.pk}/", {
        "version": "3.24.6", "count": 3, "instance_type": "t3.small"}, format="json")
    assert response.status_code == {**MANAGERS, "owner": 400, "admin": 400}[role]
    if role in ("owner", "admin"):
        assert response.json()["error"] == ("Nothing to update: the version, count and "
                                            "instance type are what the rack has.")
    assert not Notification.objects.exists()
    assert Rack.objects.get(pk=rack.pk).status == rack.status


@pytest.mark.parametrize("body", [{"count": 0}, {"count": 1001}, {"count": "many"},
                                  {"version": ""}, {"version": "v" * 41},
                                  {"instance_type": "x" * 41}])
def test_bad_rack_parameters_are_refused(owner, rack, client_for, body):
    response = client_for(owner).patch(f"/api/v1/racks/{rack.pk}/", body, format="json")
    assert response.status_code == 400
    assert not Notification.objects.exists()
    assert Rack.objects.get(pk=rack.pk).instance_count == 3


@pytest.mark.parametrize("role", ROLES)
def test_deleting_a_rack_by_role(people, client_for, rack, role):
    response = client_for(role).delete(f"/api/v1/racks/{rack.pk}/")
    expected = {**MANAGERS, "owner": 204, "admin": 204}[role]
    assert response.status_code == expected
    assert Rack.objects.filter(pk=rack.pk).exists() == (expected != 204)


def test_racks_of_other_organizations_are_404_for_every_method(owner, other_rack, client_for):
    client = client_for(owner)
    url = f"/api/v1/racks/{other_rack.pk}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"count": 5}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert Rack.objects.filter(pk=other_rack.pk).exists()


def test_an_absurd_rack_id_is_404_not_an_error(owner, client_for):
    assert client_for(owner).get("/api/v1/racks/99999999999999999999999/").status_code == 404


def test_put_is_not_how_racks_change(owner, rack, client_for):
    assert client_for(owner).put(f"/api/v1/racks/{rack.pk}/", {},
                                 format="json").status_code == 405


def test_a_token_client_works_like_a_session(owner, rack, token_client):
    assert token_client(owner).get(f"/api/v1/racks/{rack.pk}/").status_code == 200
