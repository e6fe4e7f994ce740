"""Accounts and API tokens: a person registers, gets a token, lists and revokes tokens."""

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import PASSWORD


def test_a_user_trades_their_password_for_a_token_that_works(member, rack):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "mia", "password": PASSWORD},
                           format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    stored = AuthToken.objects.get(user=member)
    assert token not in (stored.digest, stored.token_key)  # stored hashed, not as sent
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    racks = client.get("/api/v1/racks/").json()["results"]
    assert [r["name"] for r in racks] == ["production"]


@pytest.mark.parametrize("body", [
    {"username": "mia", "password": "wrong"},
    {"username": "nobody", "password": PASSWORD},
])
def test_wrong_credentials_get_a_clear_400(member, body):
    response = APIClient().post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 400
    assert "do not match" in str(response.json())
    assert not AuthToken.objects.exists()


def test_missing_fields_say_which(member):
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_a_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert client.get("/api/v1/racks/").status_code == 401


def test_an_expired_token_is_refused_and_forgotten(member):
    from datetime import timedelta

    _, token = AuthToken.objects.create(member, expiry=timedelta(seconds=-1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/racks/").status_code == 401
    assert not AuthToken.objects.filter(user=member).exists()


def test_using_a_token_forgets_the_users_other_expired_ones(member):
    from datetime import timedelta

    AuthToken.objects.create(member, expiry=timedelta(seconds=-1))
    live, token = AuthToken.objects.create(member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/racks/").status_code == 200
    assert list(AuthToken.objects.filter(user=member)) == [live]


def test_a_token_costs_two_queries_to_check(member, django_assert_num_queries):
    _, token = AuthToken.objects.create(member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    # The token with its user and details, then knox's look for the user's expired tokens.
    # The first use notes when the token was last used; within the minute after, nothing.
    with django_assert_num_queries(4):  # the token, expired ones, last_used_at, the count
        assert client.get("/api/v1/notifications/unread-count/").json() == {"count": 0}
    with django_assert_num_queries(3):  # the token, expired ones, the count
        assert client.get("/api/v1/notifications/unread-count/").json() == {"count": 0}


def test_a_user_lists_their_tokens_without_the_secrets(member, owner, token_client):
    client = token_client(member)
    AuthToken.objects.create(owner)  # someone else's token stays invisible
    response = client.get("/api/v1/auth/tokens/")
    assert response.status_code == 200
    (listed,) = response.json()["results"]
    mine = AuthToken.objects.get(user=member)
    assert set(listed) == {"id", "name", "created_at", "last_used_at", "expires_at"}
    assert listed["id"] == mine.digest[:16]
    assert mine.token_key not in str(response.json())


def test_a_user_revokes_a_token_and_it_stops_working(member, token_client):
    client = token_client(member)
    token_id = client.get("/api/v1/auth/tokens/").json()["results"][0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 204
    assert not AuthToken.objects.filter(user=member).exists()
    assert client.get("/api/v1/auth/tokens/").status_code == 401


def test_nobody_revokes_someone_elses_token(member, owner, token_client):
    _, secret = AuthToken.objects.create(owner)
    theirs = AuthToken.objects.get(user=owner).digest[:16]
    response = token_client(member).delete(f"/api/v1/auth/tokens/{theirs}/")
    assert response.status_code == 404
    assert AuthToken.objects.filter(user=owner).exists()


def test_anonymous_cannot_list_or_revoke_tokens(db):
    client = APIClient()
    assert client.get("/api/v1/auth/tokens/").status_code == 401
    assert client.delete("/api/v1/auth/tokens/0123456789abcdef/").status_code == 401


def test_a_session_user_lists_tokens_too(member, client_for):
    assert client_for(member).get("/api/v1/auth/tokens/").json() == {
        "results": [], "next": None, "previous": None}


# Registration


def test_a_person_registers_and_can_get_a_token(db):
    client = APIClient()
    response = client.post("/api/v1/auth/register/", {
        "username": "newbie", "email": "newbie@example.com", "password": PASSWORD},
        format="json")
    assert response.status_code == 201
    assert response.json()["username"] == "newbie" and "password" not in response.json()
    user = get_user_model().objects.get(username="newbie")
    assert user.check_password(PASSWORD)
    token = client.post("/api/v1/auth/token/", {"username": "newbie", "password": PASSWORD},
                        format="json")
    assert token.status_code == 200


@pytest.mark.parametrize("body, field, words", [
    ({"username": "newbie", "email": "n@example.com", "password": "short"}, "password",
     "too short"),
    ({"username": "newbie", "email": "n@example.com", "password": "password123"}, "password",
     "too common"),
    ({"username": "newbie", "email": "n@example.com", "password": "12345678901234"},
     "password", "entirely numeric"),
    ({"username": "newbie", "email": "n@example.com", "password": "newbie12"},
     "password", "too similar"),
    ({"username": "new bie!", "email": "n@example.com", "password": PASSWORD}, "username",
     "valid username"),
    ({"username": "newbie", "email": "not-an-email", "password": PASSWORD}, "email",
     "valid email"),
    ({"username": "a\u0000b", "email": "n@example.com", "password": PASSWORD}, "username",
     "Null characters"),
])
def test_a_bad_registration_says_what_is_wrong(db, body, field, words):
    response = APIClient().post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not get_user_model().objects.filter(email="n@example.com").exists()


def test_a_taken_username_is_refused(member):
    response = APIClient().post("/api/v1/auth/register/", {
        "username": "MIA", "email": "x@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["username"] == ["That username is taken."]


def test_registration_can_be_turned_off(db, settings):
    settings.REGISTRATION_OPEN = False
    response = APIClient().post("/api/v1/auth/register/", {
        "username": "newbie", "email": "n@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert "Registration is closed" in response.json()["detail"]
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_registration_is_throttled(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "1/min"}}
    client = APIClient()
    client.post("/api/v1/auth/register/", {}, format="json")
    response = client.post("/api/v1/auth/register/", {
        "username": "newbie", "email": "n@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 429 and "Retry-After" in response


def test_a_lone_surrogate_in_json_is_a_clear_400(db):
    response = APIClient().post("/api/v1/auth/register/",
                                b'{"username":"\\ud800","email":"a@b.co","password":"x"}',
                                content_type="application/json")
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["detail"]


def test_a_deeply_nested_json_body_is_a_clear_400(member, client_for):
    body = b'{"name":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client_for(member).post("/api/v1/organizations/", body,
                                       content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
