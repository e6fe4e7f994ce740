"""Organizations and members: who sees them, who manages them, and the owner rules."""


import pytest

from notifications.live.push import user_group
from notifications.models import FeedEntry
from racks.local import LocalRack
from racks.models import Membership, Role
from tests.helpers import GroupListener

READERS = {"owner": 200, "admin": 200, "member": 200, "viewer": 200, "outsider": 404,
           "anonymous": 401}
MANAGERS = {"owner": None, "admin": None, "member": 403, "viewer": 403, "outsider": 404,
            "anonymous": 401}
ROLES = list(READERS)


def test_a_user_creates_an_organization_and_becomes_its_owner(member, client_for):
    response = client_for(member).post("/api/v1/organizations/", {"name": "Acme"},
                                       format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Acme" and body["slug"] == "acme-2" and body["role"] == "owner"
    assert Membership.objects.get(organization__slug="acme-2", user=member).role == Role.OWNER


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\u0000b"])
def test_an_organization_needs_a_sensible_name(member, client_for, name):
    response = client_for(member).post("/api/v1/organizations/", {"name": name},
                                       format="json")
    assert response.status_code == 400
    assert "name" in response.json(), response.json()


def test_anonymous_cannot_create_an_organization(db, client_for):
    assert client_for("anonymous").post("/api/v1/organizations/", {"name": "X"},
                                 format="json").status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_each_user_lists_only_their_organizations(people, client_for, role):
    response = client_for(role).get("/api/v1/organizations/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    expected = [("globex", "owner")] if role == "outsider" else [("acme", role)]
    assert [(o["slug"], o["role"]) for o in response.json()] == expected


@pytest.mark.parametrize("role", ROLES)
def test_organization_detail_by_role(people, client_for, role):
    response = client_for(role).get("/api/v1/organizations/acme/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert response.json()["role"] == role


@pytest.mark.parametrize("role", ROLES)
def test_members_list_by_role(people, client_for, role):
    response = client_for(role).get("/api/v1/organizations/acme/members/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert {m["username"]: m["role"] for m in response.json()["results"]} == {
            "olivia": "owner", "adam": "admin", "mia": "member", "victor": "viewer"}


@pytest.mark.parametrize("role", ROLES)
def test_member_detail_by_role(people, client_for, role):
    response = client_for(role).get("/api/v1/organizations/acme/members/mia/")
    assert response.status_code == READERS[role]


def test_a_missing_member_is_404(owner, client_for):
    assert client_for(owner).get(
        "/api/v1/organizations/acme/members/nobody/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_changing_a_role_by_role(people, client_for, role):
    response = client_for(role).patch("/api/v1/organizations/acme/members/mia/",
                                   {"role": "viewer"}, format="json")
    assert response.status_code == (MANAGERS[role] or 200)
    assert (Membership.objects.get(user=people["member"]).role == "viewer") == \
        (response.status_code == 200)


@pytest.mark.parametrize("role", ROLES)
def test_removing_a_member_by_role(people, client_for, make_user, org, role):
    extra = make_user("extra")
    Membership.objects.create(organization=org, user=extra, role=Role.MEMBER)
    response = client_for(role).delete("/api/v1/organizations/acme/members/extra/")
    assert response.status_code == (MANAGERS[role] or 204)
    assert Membership.objects.filter(user=extra).exists() == (response.status_code != 204)


def test_an_admin_may_not_make_or_remove_owners(owner, admin, member, client_for):
    client = client_for(admin)
    base = "/api/v1/organizations/acme/members/"
    assert client.patch(base + "mia/", {"role": "owner"}, format="json").status_code == 403
    assert client.patch(base + "olivia/", {"role": "member"}, format="json").status_code == 403
    response = client.delete(base + "olivia/")
    assert response.status_code == 403
    assert "Only an owner can remove an owner" in response.json()["detail"]
    assert Membership.objects.get(user=owner).role == Role.OWNER
    assert Membership.objects.get(user=member).role == Role.MEMBER


def test_an_owner_may_make_another_owner_and_then_step_down(owner, member, client_for):
    client = client_for(owner)
    base = "/api/v1/organizations/acme/members/"
    assert client.patch(base + "mia/", {"role": "owner"}, format="json").status_code == 200
    assert client.patch(base + "olivia/", {"role": "admin"}, format="json").status_code == 200
    assert Membership.objects.get(user=owner).role == Role.ADMIN


def test_the_last_owner_can_be_neither_demoted_nor_removed(owner, client_for):
    client = client_for(owner)
    base = "/api/v1/organizations/acme/members/olivia/"
    demoted = client.patch(base, {"role": "admin"}, format="json")
    assert demoted.status_code == 400
    assert "last owner" in demoted.json()["error"]
    removed = client.delete(base)
    assert removed.status_code == 400 and "last owner" in removed.json()["error"]
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_a_removed_member_loses_the_organizations_feed_and_their_live_sockets(
        owner, member, outsider, rack, other_rack, client_for,
        django_capture_on_commit_callbacks):
    LocalRack().create_app(rack, "demo")
    Membership.objects.create(organization=other_rack.organization, user=member,
                              role=Role.MEMBER)
    LocalRack().create_app(other_rack, "elsewhere")
    assert FeedEntry.objects.filter(user=member).count() == 2

    with GroupListener(user_group(member.pk)) as browser:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(owner).delete("/api/v1/organizations/acme/members/mia/")
        assert response.status_code == 204

        # The other organization's feed stays; Acme's goes.
        assert list(FeedEntry.objects.filter(user=member)
                    .values_list("notification__rack", flat=True)) == [other_rack.pk]
        assert browser.receive()["type"] == "feed.disconnect"
    assert client_for(member).get("/api/v1/organizations/acme/").status_code == 404


def test_member_urls_of_another_organization_are_404(owner, outsider, client_for):
    client = client_for(owner)
    assert client.get("/api/v1/organizations/globex/members/").status_code == 404
    assert client.delete("/api/v1/organizations/globex/members/oscar/").status_code == 404
    assert Membership.objects.filter(user=outsider).exists()


def test_the_wrong_method_is_405(owner, client_for):
    assert client_for(owner).put("/api/v1/organizations/acme/members/olivia/",
                                 {"role": "owner"}, format="json").status_code == 405
