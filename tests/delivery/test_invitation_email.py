"""Invitation emails go out through a Celery worker and a real SMTP server, whether or not
the invited name has an account, so the answer's timing tells the inviter nothing."""

import re

from racks.models import Membership
from tests.helpers import wait_for


def test_an_invitation_by_email_arrives_and_its_link_lets_the_holder_join(
        celery_worker, smtp, owner, make_user, client_for, settings):
    settings.CONSOLE_URL = "https://console.example.com"
    response = client_for(owner).post("/api/v1/organizations/acme/invitations/",
                                      {"email": "someone@elsewhere.example", "role": "viewer"},
                                      format="json")
    assert response.status_code == 201
    wait_for(lambda: smtp.messages, timeout=20, what="the invitation email")
    message = smtp.messages[0]
    assert message["To"] == "someone@elsewhere.example"
    assert message["Subject"] == "[Rack Console] Join Acme on Rack Console"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "olivia invites you to join Acme on Rack Console as viewer" in text
    link = re.search(r"https://console\.example\.com(/invitations/claim/[^/\s]+/)", text).group(1)

    holder = make_user("holder")
    browser = client_for(holder)
    assert browser.post(link, {"answer": "accept"}).status_code == 302
    assert Membership.objects.get(user=holder).role == "viewer"


def test_a_username_with_no_account_is_answered_alike_and_emails_nobody(
        celery_worker, smtp, owner, make_user, client_for):
    make_user("realone")
    client = client_for(owner)
    for name in ("ghost", "realone"):
        assert client.post("/api/v1/organizations/acme/invitations/",
                           {"username": name}, format="json").status_code == 201
    wait_for(lambda: smtp.messages, timeout=20, what="the real user's invitation email")
    assert [m["To"] for m in smtp.messages] == ["realone@example.com"]
