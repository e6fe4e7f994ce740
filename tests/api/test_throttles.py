"""Every door is throttled: the dashboard login, the admin login and the API token endpoint
lock an account (however its name is spelled) out after 10 failures, and an address after
100, for a cool-off; password
reset and registration count per address (and the reset per email). A client cannot get
fresh attempts by sending a new X-Forwarded-For, and the answer never tells whether the
account exists."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from racks.throttling import client_address, normalise_username
from tests.conftest import PASSWORD

LIMIT = 10
# The same account, as people (and attackers) type it; the last in fullwidth letters.
SPELLINGS = ["mia", " mia", "mia ", "MIA", "mia\t", "Mia\n", "\uff4d\uff49\uff41"]


def spelled(n: int) -> str:
    return SPELLINGS[n % len(SPELLINGS)]


def dashboard_login(username: str, password: str, address: str = "10.0.0.1",
                    forwarded: str | None = None) -> object:
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post("/accounts/login/", {"username": username, "password": password},
                         **extra)


def api_login(username: str, password: str, address: str = "10.0.0.1",
              forwarded: str | None = None) -> object:
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password},
                            format="json", **extra)


def test_usernames_are_counted_as_one_account_however_spelled():
    assert {normalise_username(name) for name in SPELLINGS} == {"mia"}


def test_wrong_passwords_under_every_spelling_lock_the_dashboard_login(member):
    for n in range(LIMIT - 1):  # each from another address: the account is what is counted
        assert dashboard_login(spelled(n), "wrong", address=f"10.0.1.{n}").status_code == 200
    assert dashboard_login("MIA ", "wrong", address="10.0.1.99").status_code == 429  # the 10th
    locked = dashboard_login("mia", PASSWORD, address="10.0.2.1")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session
    assert int(locked["Retry-After"]) == 15 * 60


def test_the_api_token_endpoint_answers_429_once_the_account_is_locked(member):
    for n in range(LIMIT - 1):
        assert api_login(spelled(n), "wrong", address=f"10.0.1.{n}").status_code == 400
    assert api_login(" Mia", "wrong", address="10.0.1.99").status_code == 429  # the 10th
    locked = api_login("mia", PASSWORD, address="10.0.2.1")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0
    assert not AuthToken.objects.exists()


def test_the_admin_login_is_locked_too(make_user):
    make_user("root", is_staff=True, is_superuser=True)
    for n in range(LIMIT):
        Client().post("/admin/login/", {"username": " ROOT", "password": "wrong"},
                      REMOTE_ADDR=f"10.0.1.{n}")
    locked = Client().post("/admin/login/?next=/admin/", {"username": "root",
                                                          "password": PASSWORD},
                           REMOTE_ADDR="10.0.2.1")
    assert locked.status_code == 429
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_a_locked_account_and_an_unknown_one_get_the_same_answer(member):
    for n in range(LIMIT):
        api_login("mia", "wrong", address=f"10.0.1.{n}")
        api_login("nobody-here", "wrong", address=f"10.0.3.{n}")
    real = api_login("mia", PASSWORD, address="10.0.2.1")
    unknown = api_login("nobody-here", PASSWORD, address="10.0.2.2")
    assert real.status_code == unknown.status_code == 429
    assert real.json() == unknown.json()


def test_the_lock_lifts_after_the_cool_off(member):
    for _ in range(LIMIT):
        api_login("mia", "wrong")
    assert api_login("mia", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert api_login("mia", PASSWORD).status_code == 200


def test_one_address_trying_many_accounts_is_locked_out(member, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 30
    for n in range(29):
        api_login(f"someone{n}", "wrong", address="10.9.9.9")
    assert api_login("mia", PASSWORD, address="10.9.9.9").status_code == 200
    for n in range(30):
        api_login(f"someone{n}", "wrong", address="10.9.9.9")
    assert api_login("mia", PASSWORD, address="10.9.9.9").status_code == 429
    assert api_login("mia", PASSWORD, address="10.9.9.10").status_code == 200


def test_one_attacked_account_does_not_lock_out_its_address(member, owner):
    for n in range(40):
        api_login("olivia", f"guess-{n}", address="10.9.9.9")
    assert api_login("olivia", PASSWORD, address="10.9.9.9").status_code == 429
    assert api_login("mia", PASSWORD, address="10.9.9.9").status_code == 200
    assert dashboard_login("mia", PASSWORD, address="10.9.9.9").status_code == 302


def test_a_new_x_forwarded_for_per_request_resets_nothing(member, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = LIMIT
    for n in range(LIMIT):
        api_login(f"someone{n}", "wrong", forwarded=f"203.0.113.{n}")
    assert api_login("mia", PASSWORD, forwarded="198.51.100.7").status_code == 429
    assert dashboard_login("mia", PASSWORD, forwarded="198.51.100.8").status_code == 429


def test_behind_a_trusted_proxy_a_spoofed_prefix_is_ignored(member, settings):
    settings.TRUSTED_PROXIES = ["1"]
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = LIMIT
    for n in range(LIMIT):  # the proxy appends the real client: 192.0.2.50
        api_login(f"someone{n}", "wrong", address="10.0.0.2",
                  forwarded=f"203.0.113.{n}, 192.0.2.50")
    assert api_login("mia", PASSWORD, address="10.0.0.2",
                     forwarded="198.51.100.1, 192.0.2.50").status_code == 429
    assert api_login("mia", PASSWORD, address="10.0.0.2",
                     forwarded="192.0.2.51").status_code == 200


@pytest.mark.parametrize("proxies, forwarded, remote, client", [
    ([], "203.0.113.9", "10.0.0.2", "10.0.0.2"),
    (["1"], "203.0.113.9, 192.0.2.50", "10.0.0.2", "192.0.2.50"),
    (["2"], "203.0.113.9, 192.0.2.50, 10.0.0.3", "10.0.0.2", "192.0.2.50"),
    (["2"], "192.0.2.50", "10.0.0.2", "192.0.2.50"),
    (["10.0.0.0/8"], "203.0.113.9, 192.0.2.50, 10.0.0.3", "10.0.0.2", "192.0.2.50"),
    (["10.0.0.0/8"], "203.0.113.9", "192.0.2.77", "192.0.2.77"),  # not via the proxy
    (["10.0.0.0/8"], "not-an-address", "10.0.0.2", "10.0.0.2"),
    (["1"], "garbage", "10.0.0.2", "10.0.0.2"),
    # An IPv6 client is counted by its /64; the same address however it is written.
    ([], "", "2001:DB8:1:2:aaaa::1", "2001:db8:1:2::"),
    ([], "", "2001:db8:1:2:bbbb::7", "2001:db8:1:2::"),
    (["1"], "2001:db8:9:9::5", "10.0.0.2", "2001:db8:9:9::"),
    ([], "", "::ffff:192.0.2.9", "192.0.2.9"),
])
def test_the_client_address_believes_only_trusted_proxies(settings, proxies, forwarded,
                                                          remote, client):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == client


# Password reset and registration


def reset(email: str, address: str = "10.0.0.1", forwarded: str | None = None) -> object:
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post("/accounts/password_reset/", {"email": email}, **extra)


def test_password_reset_is_throttled_per_email_however_spelled(member):
    spellings = ["mia@example.com", " MIA@example.com", "mia@EXAMPLE.com ", "Mia@Example.Com",
                 "mia@example.com\t"]
    for n, email in enumerate(spellings):
        assert reset(email, address=f"10.0.1.{n}").status_code == 302
    refused = reset("mia@example.com", address="10.0.2.1")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode()
    sent = len(mail.outbox)
    assert sent <= 5


def test_password_reset_answers_the_same_for_an_unknown_email(member):
    for n in range(5):
        reset("nobody@example.com", address=f"10.0.1.{n}")
    unknown = reset("nobody@example.com", address="10.0.2.1")
    for n in range(5):
        reset("mia@example.com", address=f"10.0.3.{n}")
    known = reset("mia@example.com", address="10.0.2.2")
    assert unknown.status_code == known.status_code == 429
    assert unknown.content == known.content


def test_password_reset_is_throttled_per_address_whatever_it_forwards(member):
    for n in range(30):
        reset(f"someone{n}@example.com", forwarded=f"203.0.113.{n}")
    assert reset("mia@example.com", forwarded="198.51.100.1").status_code == 429
    assert reset("mia@example.com", address="10.0.0.99").status_code == 302


def test_registering_on_the_page_is_throttled_per_address(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "2/min"}}
    for n in range(2):
        Client().post("/accounts/register/", {"username": f"x{n}"},
                      REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    refused = Client().post("/accounts/register/", {
        "username": "newbie", "email": "n@example.com", "password1": PASSWORD,
        "password2": PASSWORD}, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert refused.status_code == 429
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_registering_through_the_api_is_throttled_per_address(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "2/min"}}
    for n in range(2):
        APIClient().post("/api/v1/auth/register/", {}, format="json",
                         HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    refused = APIClient().post("/api/v1/auth/register/", {
        "username": "newbie", "email": "n@example.com", "password": PASSWORD},
        format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert APIClient().post("/api/v1/auth/register/", {
        "username": "newbie", "email": "n@example.com", "password": PASSWORD},
        format="json", REMOTE_ADDR="10.0.0.7").status_code == 201


def test_the_register_page_and_api_share_one_count_per_address(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register": "2/min"}}
    Client().post("/accounts/register/", {"username": "x"}, REMOTE_ADDR="10.0.0.1")
    APIClient().post("/api/v1/auth/register/", {}, format="json", REMOTE_ADDR="10.0.0.1")
    assert Client().post("/accounts/register/", {"username": "y"},
                         REMOTE_ADDR="10.0.0.1").status_code == 429
    assert APIClient().post("/api/v1/auth/register/", {}, format="json",
                            REMOTE_ADDR="10.0.0.1").status_code == 429
