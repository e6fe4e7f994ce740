"""The API tokens settings page: a person makes a named token with an expiry, sees its key
once, finds it in the list with when it was made, last used and expires, and revokes it."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from racks import accounts


def key_on(html: str) -> str:
    found = re.search(r'id="new-token-key" data-token>([^<]+)<', html)
    assert found, "no token key on the page"
    return found.group(1)


def works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/notifications/unread-count/").status_code == 200


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer", "outsider"])
def test_anyone_logged_in_makes_a_token_and_sees_its_key_once(client_for, who):
    client = client_for(who)
    response = client.post("/settings/tokens/", {"create": "1", "name": "ci deploys",
                                                 "expires_in_days": "30"})
    assert response.status_code == 200
    key = key_on(response.content.decode())
    assert works(key)
    token = AuthToken.objects.get()
    assert token.details.name == "ci deploys"
    assert abs(token.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    again = client.get("/settings/tokens/").content.decode()
    assert key not in again and "ci deploys" in again


def test_the_list_shows_created_last_used_and_expires(client_for, member):
    _, key = accounts.issue_token(member, name="laptop", days=10)
    assert works(key)
    html = client_for("member").get("/settings/tokens/").content.decode()
    row = re.search(r"<tr data-token-id=.*?</tr>", html, re.S).group(0)
    assert "laptop" in row and "never" not in row  # used, and it expires
    today = timezone.now().strftime("%Y-%m-%d")
    expires = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d")
    assert row.count(f'datetime="{today}') == 2 and f'datetime="{expires}' in row


def test_a_person_revokes_a_token_on_the_page(client_for, member):
    token, key = accounts.issue_token(member, name="old")
    response = client_for("member").post("/settings/tokens/", {"revoke": accounts.token_id(token)},
                                  follow=True)
    assert response.status_code == 200
    assert "The token is revoked" in response.content.decode()
    assert not works(key)


def test_nobody_revokes_someone_elses_token_on_the_page(client_for, member, owner):
    token, key = accounts.issue_token(owner)
    client_for("member").post("/settings/tokens/", {"revoke": accounts.token_id(token)})
    assert works(key)


@pytest.mark.parametrize("revoke", ["", "0", "not-an-id", "%"])
def test_a_revoke_without_a_real_id_revokes_nothing(client_for, member, revoke):
    _, key = accounts.issue_token(member)
    response = client_for("member").post("/settings/tokens/", {"revoke": revoke})
    assert response.status_code == 302
    assert works(key)


@pytest.mark.parametrize("days, words", [("0", "from 1 to 365 days"),
                                         ("400", "from 1 to 365 days"),
                                         ("soon", "Enter a whole number")])
def test_a_bad_expiry_is_explained(client_for, member, days, words):
    response = client_for("member").post("/settings/tokens/", {"create": "1", "name": "x",
                                                        "expires_in_days": days})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not AuthToken.objects.exists()


def test_an_anonymous_visitor_is_sent_to_log_in(db):
    response = Client().get("/settings/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_header_and_settings_link_to_the_api_docs(client_for, member):
    html = client_for("member").get("/settings/tokens/").content.decode()
    assert html.count('href="/api/docs/"') >= 2  # the header and the settings tabs


def test_the_password_forms_say_a_change_revokes_tokens(client_for, member):
    page = client_for("member").get("/accounts/password_change/").content.decode()
    assert "signs you out everywhere else and revokes your API tokens" in page
    assert "<li></li>" not in page
