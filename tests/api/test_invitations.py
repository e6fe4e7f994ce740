"""Invitations through the API: nobody joins without accepting, and inviting tells the
inviter nothing about who has an account."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from notifications import feed
from notifications.live.push import user_group
from notifications.models import FeedEntry, Notification, Preference
from racks import invitations
from racks.local import LocalRack
from racks.models import Invitation, InvitationStatus, Membership, Role
from tests.helpers import GroupListener

MANAGERS = {"owner": 201, "admin": 201, "member": 403, "viewer": 403, "outsider": 404,
            "anonymous": 401}
ROLES = list(MANAGERS)
INVITE = "/api/v1/organizations/acme/invitations/"


@pytest.fixture
def newbie(make_user):
    return make_user("newbie")


def invite(client, **body):
    return client.post(INVITE, {"role": "member", **body}, format="json")


@pytest.mark.parametrize("role", ROLES)
def test_inviting_by_role(people, client_for, newbie, role):
    response = invite(client_for(role), username="newbie")
    assert response.status_code == MANAGERS[role]
    assert Invitation.objects.exists() == (response.status_code == 201)
    # Consent: an invitation makes nobody a member.
    assert not Membership.objects.filter(user=newbie).exists()
    if role == "viewer":
        assert "Only owners and admins of Acme" in response.json()["detail"]


def test_the_answer_is_the_same_for_a_real_and_an_unknown_username(owner, newbie,
                                                                   client_for):
    client = client_for(owner)
    real, unknown = invite(client, username="newbie"), invite(client, username="nobody-here")
    assert real.status_code == unknown.status_code == 201
    shape = {k: v for k, v in real.json().items() if k not in ("id", "invitee", "expires_at",
                                                              "created_at")}
    assert shape == {k: v for k, v in unknown.json().items()
                     if k not in ("id", "invitee", "expires_at", "created_at")}
    assert set(real.json()) == set(unknown.json())
    assert real.json()["status"] == "pending"
    assert "email" not in str(real.json()) and "newbie@example.com" not in str(real.json())
    # The organization's list shows both as pending alike.
    listed = client.get(INVITE).json()["results"]
    assert [(i["invitee"], i["status"]) for i in listed] == [
        ("newbie", "pending"), ("nobody-here", "pending")]


def test_the_posting_to_members_is_405_and_names_the_invitations_endpoint(owner, newbie,
                                                                          client_for):
    response = client_for(owner).post("/api/v1/organizations/acme/members/",
                                      {"username": "newbie", "role": "member"}, format="json")
    assert response.status_code == 405
    assert "/api/v1/organizations/acme/invitations/" in response.json()["detail"]
    assert not Membership.objects.filter(user=newbie).exists()


def test_the_invitee_sees_accepts_and_joins_with_the_role(owner, newbie, client_for):
    invite(client_for(owner), username="newbie", role="viewer")
    mine = client_for(newbie).get("/api/v1/invitations/").json()["results"]
    assert len(mine) == 1
    assert mine[0]["organization"] == {"slug": "acme", "name": "Acme"}
    assert mine[0]["role"] == "viewer" and mine[0]["invited_by"] == "olivia"
    response = client_for(newbie).post(f"/api/v1/invitations/{mine[0]['id']}/accept/")
    assert response.status_code == 200
    assert response.json() == {"organization": {"slug": "acme", "name": "Acme"},
                               "role": "viewer"}
    assert Membership.objects.get(user=newbie).role == Role.VIEWER
    assert client_for(newbie).get("/api/v1/invitations/").json()["results"] == []
    # Accepted at most once.
    again = client_for(newbie).post(f"/api/v1/invitations/{mine[0]['id']}/accept/")
    assert again.status_code == 410


def test_declining_leaves_no_membership(owner, newbie, client_for):
    invite(client_for(owner), username="newbie")
    invitation = Invitation.objects.get()
    response = client_for(newbie).post(f"/api/v1/invitations/{invitation.pk}/decline/")
    assert response.status_code == 204
    assert not Membership.objects.filter(user=newbie).exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert client_for(newbie).post(
        f"/api/v1/invitations/{invitation.pk}/accept/").status_code == 410


@pytest.mark.parametrize("who", ["owner", "admin", "member", "outsider"])
def test_only_the_invitee_can_answer(people, newbie, client_for, who):
    invite(client_for("owner"), username="newbie")
    invitation = Invitation.objects.get()
    for verb in ("accept", "decline"):
        response = client_for(who).post(f"/api/v1/invitations/{invitation.pk}/{verb}/")
        assert response.status_code == 404
    assert not client_for(who).get("/api/v1/invitations/").json()["results"]
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.parametrize("fate", ["expired", "revoked", "accepted"])
def test_an_expired_revoked_or_used_invitation_cannot_be_accepted(owner, newbie, client_for,
                                                                  fate):
    invite(client_for(owner), username="newbie")
    invitation = Invitation.objects.get()
    if fate == "expired":
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif fate == "revoked":
        assert client_for(owner).delete(f"{INVITE}{invitation.pk}/").status_code == 204
    else:
        invitations.accept(invitation, newbie)
        Membership.objects.filter(user=newbie).delete()
    assert client_for(newbie).get("/api/v1/invitations/").json()["results"] == []
    response = client_for(newbie).post(f"/api/v1/invitations/{invitation.pk}/accept/")
    assert response.status_code == 410
    assert "expired, was revoked or was already answered" in response.json()["detail"]
    assert not Membership.objects.filter(user=newbie).exists()


def test_invitations_expire_after_seven_days(owner, newbie, client_for):
    before = timezone.now()
    invite(client_for(owner), username="newbie")
    expires = Invitation.objects.get().expires_at
    assert timedelta(days=7) <= expires - before < timedelta(days=7, minutes=1)


@pytest.mark.parametrize("role", ROLES)
def test_listing_and_revoking_the_organizations_invitations_by_role(people, client_for, newbie,
                                                                     role):
    invite(client_for("owner"), username="newbie")
    invitation = Invitation.objects.get()
    listed = client_for(role).get(INVITE)
    expected = {201: 200}.get(MANAGERS[role], MANAGERS[role])
    assert listed.status_code == expected
    revoked = client_for(role).delete(f"{INVITE}{invitation.pk}/")
    assert revoked.status_code == {201: 204}.get(MANAGERS[role], MANAGERS[role])
    invitation.refresh_from_db()
    assert (invitation.status == InvitationStatus.REVOKED) == (revoked.status_code == 204)


def test_admins_cannot_invite_or_revoke_owners(owner, admin, newbie, client_for):
    assert invite(client_for(admin), username="newbie", role="owner").status_code == 403
    invite(client_for(owner), username="newbie", role="owner")
    invitation = Invitation.objects.get()
    response = client_for(admin).delete(f"{INVITE}{invitation.pk}/")
    assert response.status_code == 403
    assert "Only an owner can" in response.json()["detail"]


@pytest.mark.parametrize("body, reason", [
    ({"username": "mia"}, "already a member of Acme"),
    ({"username": "newbie", "role": "king"}, "not a valid choice"),
    ({}, "either a username or an email"),
    ({"username": "newbie", "email": "n@example.com"}, "either a username or an email"),
    ({"email": "not-an-address"}, "valid email"),
])
def test_inviting_explains_a_mistake(owner, member, newbie, client_for, body, reason):
    response = invite(client_for(owner), **body)
    assert response.status_code == 400
    assert reason in str(response.json())
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_for_the_same_person_is_refused(owner, newbie,
                                                                    client_for):
    assert invite(client_for(owner), username="newbie").status_code == 201
    again = invite(client_for(owner), username="newbie")
    assert again.status_code == 400 and "already has a pending invitation" in str(again.json())
    assert invite(client_for(owner), email="x@example.com").status_code == 201
    assert invite(client_for(owner), email="X@example.com").status_code == 400


def test_inviting_is_throttled_per_inviter_and_per_organization(owner, admin, client_for,
                                                                settings):
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "invite_user": "3/hour", "invite_organization": "4/hour"}}
    for n in range(3):
        assert invite(client_for(owner), username=f"person{n}").status_code == 201
    throttled = invite(client_for(owner), username="person9")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "Too many invitations" in throttled.json()["detail"]
    # Another inviter of the same organization has their own budget, up to the org's.
    assert invite(client_for(admin), username="personA").status_code == 201
    assert invite(client_for(admin), username="personB").status_code == 429
    assert Invitation.objects.count() == 4


def test_an_invitation_by_email_is_claimed_only_through_its_link(owner, make_user, client_for,
                                                                 mailoutbox):
    # Same address as an account, but addresses prove nothing here: no automatic match.
    holder = make_user("holder")
    same_address = make_user("samey")
    same_address.email = "invited@example.com"
    same_address.save()
    invite(client_for(owner), email="invited@example.com")
    invitation = Invitation.objects.get()
    assert client_for(same_address).get("/api/v1/invitations/").json()["results"] == []
    assert client_for(same_address).post(
        f"/api/v1/invitations/{invitation.pk}/accept/").status_code == 404

    invitations.send_invitation(invitation.pk)
    assert mailoutbox[0].to == ["invited@example.com"]
    token = re.search(r"/invitations/claim/([^/\s]+)/", mailoutbox[0].body).group(1)
    invitation.refresh_from_db()
    assert invitation.token_hash and token not in invitation.token_hash  # stored hashed

    invitations.claim(token, holder, accepting=True)
    assert Membership.objects.get(user=holder).role == Role.MEMBER
    with pytest.raises(invitations.InvitationGone):  # single use
        invitations.claim(token, same_address, accepting=True)


def test_the_email_of_a_username_invitation_links_to_the_invitations_page(owner, newbie,
                                                                          client_for,
                                                                          mailoutbox):
    invite(client_for(owner), username="newbie")
    invitations.send_invitation(Invitation.objects.get().pk)
    assert mailoutbox[0].to == ["newbie@example.com"]
    assert "olivia invites you to join Acme" in mailoutbox[0].body
    assert "/invitations/" in mailoutbox[0].body


def test_an_unknown_username_gets_no_email(owner, client_for, mailoutbox):
    invite(client_for(owner), username="nobody-here")
    invitations.send_invitation(Invitation.objects.get().pk)
    assert mailoutbox == []


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_only_owners_and_admins_see_members_emails(people, client_for, role):
    rows = client_for(role).get("/api/v1/organizations/acme/members/").json()["results"]
    one = client_for(role).get("/api/v1/organizations/acme/members/mia/").json()
    if role in ("owner", "admin"):
        assert {r["email"] for r in rows} >= {"mia@example.com"}
        assert one["email"] == "mia@example.com"
    else:
        assert all("email" not in r for r in rows) and "email" not in one
        assert "@example.com" not in str(rows)


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_a_member_can_leave(people, client_for, role):
    user = people[role]
    response = client_for(role).delete(
        f"/api/v1/organizations/acme/members/{user.get_username()}/")
    assert response.status_code == 204
    assert not Membership.objects.filter(user=user).exists()


def test_the_last_owner_cannot_leave_but_one_of_two_can(owner, member, client_for):
    response = client_for(owner).delete("/api/v1/organizations/acme/members/olivia/")
    assert response.status_code == 400 and "last owner" in response.json()["error"]
    Membership.objects.filter(user=member).update(role=Role.OWNER)
    assert client_for(owner).delete(
        "/api/v1/organizations/acme/members/olivia/").status_code == 204


def test_a_new_member_gets_the_last_30_days_read_and_filtered_by_preferences(
        owner, newbie, rack, client_for):
    LocalRack().create_app(rack, "web")
    LocalRack().create_app(rack, "old")
    LocalRack().create_resource(rack, "db", "postgres")
    Notification.objects.filter(app="old").update(
        created_at=timezone.now() - timedelta(days=31))
    # The newbie does not want resource events in the console.
    Preference.objects.create(user=newbie, event_type="resource:create", channels=["email"])
    invite(client_for(owner), username="newbie")
    response = client_for(newbie).post(
        f"/api/v1/invitations/{Invitation.objects.get().pk}/accept/")
    assert response.status_code == 200
    feed = client_for(newbie).get("/api/v1/notifications/").json()["results"]
    assert [item["app"] for item in feed] == ["web"]
    assert all(item["read"] for item in feed)
    assert client_for(newbie).get(
        "/api/v1/notifications/unread-count/").json() == {"count": 0}
    # Later events reach the new member as to anyone.
    LocalRack().create_app(rack, "later")
    assert FeedEntry.objects.filter(user=newbie, notification__app="later", read=False).exists()


def test_accepting_reconnects_the_members_open_sockets(owner, newbie, client_for,
                                                      django_capture_on_commit_callbacks):
    invite(client_for(owner), username="newbie")
    with GroupListener(user_group(newbie.pk)) as browser:
        with django_capture_on_commit_callbacks(execute=True):
            client_for(newbie).post(
                f"/api/v1/invitations/{Invitation.objects.get().pk}/accept/")
        assert browser.receive()["type"] == "feed.disconnect"


def test_a_new_members_history_is_capped(owner, newbie, rack, client_for, monkeypatch):
    for n in range(5):
        LocalRack().create_app(rack, f"app{n}")
    monkeypatch.setattr(feed, "HISTORY_MAX", 3)
    invite(client_for(owner), username="newbie")
    client_for(newbie).post(f"/api/v1/invitations/{Invitation.objects.get().pk}/accept/")
    assert list(FeedEntry.objects.filter(user=newbie).order_by("notification_id")
                .values_list("notification__app", flat=True)) == ["app2", "app3", "app4"]
