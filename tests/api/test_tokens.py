"""API tokens over their life: made with a name and an expiry, listed a page at a time,
noted when used, refused once expired or revoked, and all gone after a password change
(whichever way the password changed)."""

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken
from rest_framework.test import APIClient

from racks.models import TokenDetails
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-new-and-longer-passphrase-9"


def get_token(username: str = "mia", **extra: object) -> dict:
    response = APIClient().post("/api/v1/auth/token/",
                                {"username": username, "password": PASSWORD, **extra},
                                format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = with_token(key).get("/api/v1/notifications/unread-count/").status_code
    assert status in (200, 401)
    return status == 200


def test_a_token_lasts_90_days_unless_told_otherwise(member):
    before = timezone.now()
    answer = get_token()
    assert set(answer) == {"token", "expires_at"}
    expires = AuthToken.objects.get(user=member).expiry
    assert before + timedelta(days=90) <= expires <= timezone.now() + timedelta(days=90)
    assert answer["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M"))


def test_a_user_names_a_token_and_says_how_long_it_lasts(member):
    answer = get_token(name="ci deploys", expires_in_days=7)
    (listed,) = with_token(answer["token"]).get("/api/v1/auth/tokens/").json()["results"]
    assert listed["name"] == "ci deploys"
    assert listed["expires_at"] == answer["expires_at"]
    expires = AuthToken.objects.get(user=member).expiry
    assert abs(expires - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


@pytest.mark.parametrize("days", [0, -3, 366, 10_000])
def test_a_token_lasts_at_most_a_year(member, days):
    response = APIClient().post("/api/v1/auth/token/", {
        "username": "mia", "password": PASSWORD, "expires_in_days": days}, format="json")
    assert response.status_code == 400
    assert response.json()["expires_in_days"] == ["A token lasts from 1 to 365 days."]
    assert not AuthToken.objects.exists()


def test_the_deployment_sets_the_longest_a_token_lasts(member, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    response = APIClient().post("/api/v1/auth/token/", {
        "username": "mia", "password": PASSWORD, "expires_in_days": 31}, format="json")
    assert response.status_code == 400
    assert get_token(expires_in_days=30)["token"]


def test_an_expired_token_answers_401(member):
    key = get_token(expires_in_days=1)["token"]
    assert works(key)
    AuthToken.objects.filter(user=member).update(expiry=timezone.now() - timedelta(seconds=1))
    assert not works(key)
    assert with_token(key).get("/api/v1/racks/").json() == {"detail": "Invalid token."}


def test_an_expired_token_is_not_listed(member, client_for):
    get_token(name="old")
    get_token(name="fresh")
    AuthToken.objects.filter(details__name="old").update(
        expiry=timezone.now() - timedelta(seconds=1))
    listed = client_for(member).get("/api/v1/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["fresh"]


def test_last_used_is_noted_at_most_once_a_minute(member):
    key = get_token()["token"]
    details = TokenDetails.objects.get(token__user=member)
    assert details.last_used_at is None
    assert works(key)
    details.refresh_from_db()
    first = details.last_used_at
    assert first is not None
    assert works(key)
    details.refresh_from_db()
    assert details.last_used_at == first  # within the minute: not written again
    TokenDetails.objects.filter(pk=details.pk).update(
        last_used_at=timezone.now() - timedelta(seconds=61))
    assert works(key)
    details.refresh_from_db()
    assert details.last_used_at > first


def test_the_token_list_is_a_page_at_a_time_newest_first(member, client_for):
    for number in range(23):
        get_token(name=f"token {number}")
    client = client_for(member)
    first = client.get("/api/v1/auth/tokens/").json()
    assert set(first) == {"results", "next", "previous"}
    assert len(first["results"]) == 20 and first["previous"] is None
    assert first["results"][0]["name"] == "token 22"
    second = client.get(first["next"]).json()
    assert [t["name"] for t in second["results"]] == ["token 2", "token 1", "token 0"]
    assert second["next"] is None
    listed = {t["id"] for t in first["results"] + second["results"]}
    assert len(listed) == 23


def test_a_revoked_token_answers_401_at_once(member):
    key = get_token()["token"]
    client = with_token(key)
    token_id = client.get("/api/v1/auth/tokens/").json()["results"][0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 204
    assert not works(key)
    assert not TokenDetails.objects.exists()


# A password change revokes every token, whichever way the password changed.


def test_changing_the_password_on_the_dashboard_revokes_tokens_and_other_sessions(member,
                                                                                 client_for):
    keys = [get_token()["token"], get_token(name="second")["token"]]
    here, elsewhere = client_for(member), client_for(member)
    assert elsewhere.get("/").status_code == 200
    response = here.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content
    assert not any(works(key) for key in keys)
    assert not AuthToken.objects.filter(user=member).exists()
    assert here.get("/").status_code == 200  # the session that changed it stays
    assert elsewhere.get("/").status_code == 302  # every other one is logged out


def test_resetting_the_password_by_email_revokes_tokens(member, client_for):
    key = get_token()["token"]
    elsewhere = client_for(member)
    assert elsewhere.get("/").status_code == 200
    browser = Client()
    assert browser.post("/accounts/password_reset/",
                        {"email": member.email}).status_code == 302
    assert len(mail.outbox) == 1
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    link = f"/accounts/reset/{uid}/{default_token_generator.make_token(member)}/"
    form = browser.get(link, follow=True)
    assert form.status_code == 200
    done = browser.post(form.redirect_chain[-1][0], {
        "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content
    assert not works(key)
    assert elsewhere.get("/").status_code == 302


def test_an_administrator_setting_the_password_in_the_admin_revokes_tokens(member, make_user,
                                                                          client_for):
    key = get_token()["token"]
    admin = client_for(make_user("boss", is_staff=True, is_superuser=True))
    response = admin.post(f"/admin/auth/user/{member.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert not works(key)


def test_changepassword_on_the_command_line_revokes_tokens(member):
    key = get_token()["token"]
    with mock.patch("getpass.getpass", return_value=NEW_PASSWORD):
        call_command("changepassword", "mia", stdout=StringIO())
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert not works(key)


def test_a_password_change_leaves_other_peoples_tokens_alone(member, owner):
    mine, theirs = get_token("mia")["token"], get_token("olivia")["token"]
    member.set_password(NEW_PASSWORD)
    member.save()
    assert not works(mine)
    assert works(theirs)


def test_tokens_made_before_expiry_existed_get_details_and_90_days(member):
    from importlib import import_module

    from django.apps import apps

    token, key = AuthToken.objects.create(member, expiry=None)
    TokenDetails.objects.filter(pk=token.pk).delete()
    import_module("racks.migrations.0004_token_details") \
        .give_existing_tokens_details_and_expiry(apps, None)
    token.refresh_from_db()
    assert abs(token.expiry - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    assert TokenDetails.objects.filter(pk=token.pk, name="").exists()
    assert works(key)
