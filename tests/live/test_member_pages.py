"""The organization page's people and the invitations pages, by role, as a person clicks."""

import re

import pytest
from django.test import Client

from racks import invitations
from racks.models import Invitation, InvitationStatus, Membership, Role

ROLES = ["owner", "admin", "member", "viewer"]
ORG_PAGE = "/organizations/acme/"


@pytest.fixture
def newbie(make_user):
    return make_user("newbie")


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


@pytest.mark.parametrize("who", ROLES)
def test_every_member_sees_the_members_but_only_managers_see_emails_and_invitations(
        client_for, owner, admin, member, viewer, who):
    html = client_for(who).get(ORG_PAGE).content.decode()
    for name in ("olivia", "adam", "mia", "victor"):
        assert html.count(f'id="member-{name}"') == 1
    managing = who in ("owner", "admin")
    assert ("mia@example.com" in html) == managing
    assert ('class="inline invite-form"' in html) == managing
    assert ("Change role" in html) == managing
    assert "Leave Acme" in html  # everyone may leave (the last owner is told why not)


@pytest.mark.parametrize("who, expected", [("owner", 302), ("admin", 302), ("member", 403),
                                           ("viewer", 403), ("outsider", 404)])
def test_inviting_from_the_page_by_role(client_for, owner, admin, member, viewer, outsider, newbie,
                                        who, expected):
    response = client_for(who).post(f"{ORG_PAGE}invite/", {"username": "newbie", "role": "member"})
    assert response.status_code == expected
    assert Invitation.objects.exists() == (expected == 302)
    assert not Membership.objects.filter(user=newbie).exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client_for, owner, newbie):
    response = client_for("anonymous").post(f"{ORG_PAGE}invite/",
                                            {"username": "newbie", "role": "member"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert not Invitation.objects.exists()


def test_an_owner_invites_revokes_and_sees_the_same_message_for_any_name(client_for, owner, newbie):
    client = client_for("owner")
    real = client.post(f"{ORG_PAGE}invite/", {"username": "newbie", "role": "viewer"},
                       follow=True)
    unknown = client.post(f"{ORG_PAGE}invite/", {"username": "ghost", "role": "viewer"},
                          follow=True)
    assert "Invited newbie as viewer. They join when they accept." in messages_of(real)
    assert "Invited ghost as viewer. They join when they accept." in messages_of(unknown)
    html = unknown.content.decode()
    assert "newbie" in html and "ghost" in html
    invitation = Invitation.objects.get(username="ghost")
    revoked = client.post(f"{ORG_PAGE}invitations/{invitation.pk}/revoke/", follow=True)
    assert "Revoked the invitation of ghost." in messages_of(revoked)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED


def test_a_bad_invite_form_says_why_and_keeps_what_was_typed(client_for, owner):
    response = client_for("owner").post(f"{ORG_PAGE}invite/", {"username": "", "role": "viewer"})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<ul class="errorlist nonfield"><li>Give either a username or an email address.' \
        in html
    assert '<option value="viewer" selected>' in html
    response = client_for("owner").post(f"{ORG_PAGE}invite/", {"email": "not-an-address",
                                                        "role": "member"})
    html = response.content.decode()
    assert 'id="invite-email_error"' in html and 'value="not-an-address"' in html
    assert 'aria-describedby="invite-email_error"' in html
    assert not Invitation.objects.exists()


def test_the_invitee_sees_a_banner_on_every_page_and_accepts(client_for, owner, newbie, rack):
    invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                       role=Role.MEMBER, username="newbie")
    client = client_for(newbie)
    for url in ("/", "/racks/", "/organizations/", "/settings/notifications/"):
        html = client.get(url).content.decode()
        assert "You have 1 pending invitation: accept or decline" in html, url
    page = client.get("/invitations/").content.decode()
    assert "Acme" in page and "invited by <bdi>olivia</bdi>" in page
    invitation = Invitation.objects.get()
    joined = client.post(f"/invitations/{invitation.pk}/accept/", follow=True)
    assert "Welcome to Acme." in messages_of(joined)
    assert joined.request["PATH_INFO"] == ORG_PAGE
    assert Membership.objects.get(user=newbie).role == Role.MEMBER
    assert "pending invitation" not in client.get("/").content.decode()


def test_the_invitee_declines_and_others_cannot_answer(client_for, owner, member, newbie, rack):
    invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                       role=Role.MEMBER, username="newbie")
    invitation = Invitation.objects.get()
    assert client_for("member").post(f"/invitations/{invitation.pk}/accept/").status_code == 404
    client_for(newbie).post(f"/invitations/{invitation.pk}/decline/")
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert not Membership.objects.filter(user=newbie).exists()


@pytest.mark.parametrize("who", ["admin", "member", "viewer"])
def test_a_member_leaves_from_the_page(client_for, owner, admin, member, viewer, who, request):
    user = request.getfixturevalue(who)
    response = client_for(who).post(f"{ORG_PAGE}members/{user.get_username()}/remove/", follow=True)
    assert "You left Acme." in messages_of(response)
    assert not Membership.objects.filter(user=user).exists()


def test_the_last_owner_is_told_why_they_cannot_leave(client_for, owner):
    response = client_for("owner").post(f"{ORG_PAGE}members/olivia/remove/", follow=True)
    assert "last owner" in messages_of(response)
    assert Membership.objects.filter(user=owner).exists()


@pytest.mark.parametrize("who, expected", [("owner", 302), ("admin", 302), ("member", 403),
                                           ("viewer", 403), ("outsider", 404)])
def test_changing_a_role_and_removing_from_the_page_by_role(client_for, owner, admin, member,
                                                            viewer, outsider, make_user, org, who,
                                                            expected):
    extra = make_user("extra")
    Membership.objects.create(organization=org, user=extra, role=Role.VIEWER)
    assert client_for(who).post(f"{ORG_PAGE}members/extra/role/",
                         {"role": "member"}).status_code == expected
    assert (Membership.objects.get(user=extra).role == Role.MEMBER) == (expected == 302)
    assert client_for(who).post(f"{ORG_PAGE}members/extra/remove/").status_code == expected
    assert Membership.objects.filter(user=extra).exists() == (expected != 302)


def test_an_admin_is_told_only_an_owner_can_change_an_owner(client_for, owner, admin):
    response = client_for("admin").post(f"{ORG_PAGE}members/olivia/role/", {"role": "member"},
                                 follow=True)
    assert "Only an owner can change the role of an owner." in messages_of(response)
    assert Membership.objects.get(user=owner).role == Role.OWNER


def _emailed_link(owner, rack, mailoutbox) -> str:
    invitations.invite(rack.organization, inviter=owner, acting_role=Role.OWNER,
                       role=Role.MEMBER, email="new.person@example.com")
    invitations.send_invitation(Invitation.objects.get().pk)
    return re.search(r"(/invitations/claim/[^/\s]+/)", mailoutbox[-1].body).group(1)


def test_an_emailed_link_lets_a_new_person_register_even_when_registration_is_closed(
        owner, rack, mailoutbox, settings):
    settings.REGISTRATION_OPEN = False
    link = _emailed_link(owner, rack, mailoutbox)
    browser = Client()
    page = browser.get(link).content.decode()
    assert ("<bdi>olivia</bdi> invites you to join <strong><bdi>Acme</bdi></strong> as member"
            in page)
    register = re.search(r'href="(/accounts/register/\?invitation=[^"]+)"', page).group(1)
    assert browser.get("/accounts/register/").status_code == 403  # closed without the link
    assert browser.get(register).status_code == 200
    token = link.rstrip("/").rsplit("/", 1)[1]
    response = browser.post("/accounts/register/", {
        "username": "newperson", "email": "new.person@example.com",
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
        "invitation": token})
    assert response.status_code == 302 and response.url == link
    browser.post(link, {"answer": "accept"})
    assert Membership.objects.filter(organization__slug="acme",
                                     user__username="newperson").exists()
    # The link is spent.
    assert browser.get(link).status_code == 410


def test_a_logged_in_person_declines_through_the_link(client_for, owner, make_user, rack,
                                                      mailoutbox):
    link = _emailed_link(owner, rack, mailoutbox)
    someone = make_user("someone")
    client_for(someone).post(link, {"answer": "decline"})
    assert Invitation.objects.get().status == InvitationStatus.DECLINED
    assert not Membership.objects.filter(user=someone).exists()


def test_a_made_up_link_is_gone(db):
    assert Client().get("/invitations/claim/made-up-token/").status_code == 410
