"""Connecting a Convox rack: the one step, and every way it can fail, said clearly."""

import base64
import ipaddress

import pytest

from console.encryption import decrypt
from console.outbound import safety
from racks.connect import connect_rack, disconnect_rack
from racks.driver import RackError
from racks.models import Rack
from tests.racks.conftest import sent


def test_connecting_checks_the_password_reads_the_rack_and_registers_the_webhook(
        fake, org, owner, settings):
    connected = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    rack = connected.rack
    assert rack.driver == "convox" and rack.host == fake.url
    assert rack.version == fake.version and rack.status == "running"
    if fake.generation == 2:
        assert (rack.generation, rack.provider) == ("2", "aws")
        assert (rack.instance_count, rack.instance_type) == (3, "t3.small")
        assert connected.signing_key_command == ""
    else:
        assert (rack.generation, rack.provider) == ("3", "k8s")
        # v3 reports no count nor type: "not reported", never the local defaults.
        assert (rack.instance_count, rack.instance_type) == (None, "")
        assert connected.signing_key_command.startswith(
            "convox rack params set webhook_signing_key=")
    # The password is kept encrypted.
    assert fake.password not in rack.password_encrypted
    assert decrypt(rack.password_encrypted) == fake.password
    # The rack's webhook is the rack's ingest URL.
    [webhook] = [r for r in fake.resources.values() if r["type"] == "webhook"]
    assert webhook["url"] == settings.CONSOLE_URL + rack.ingest_path
    assert webhook["name"] == rack.webhook_resource
    # Connecting never changes the rack.
    assert not sent(fake, "PUT", "/system")


def test_the_requests_have_the_shapes_the_cli_sends(fake, org, owner):
    connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    [auth] = sent(fake, "GET", "/auth")
    user, _, password = base64.b64decode(
        auth.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
    assert (user, password) == ("convox", fake.password)
    [register] = sent(fake, "POST", "/resources")
    assert register.headers["content-type"] == "application/x-www-form-urlencoded"
    assert register.form["kind"] == "webhook"
    # `parameters` is one URL-encoded map value: Url=<encoded url>.
    assert register.form["parameters"].startswith("Url=http%3A%2F%2F")
    assert sent(fake, "GET", "/system")


def test_a_wrong_password_is_said_and_nothing_is_stored(fake, org, owner):
    with pytest.raises(RackError, match="refused the password"):
        connect_rack(org, "real", host=fake.url, password="not-it", user=owner)
    assert not Rack.objects.exists() and not fake.resources


def test_an_unreachable_host_is_said(start_fake, org, owner):
    fake = start_fake(generation=3)
    fake.stop()
    with pytest.raises(RackError, match="could not be reached"):
        connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    assert not Rack.objects.exists()


def test_a_rack_too_old_is_refused_naming_its_version(start_fake, org, owner):
    fake = start_fake(generation=2, version="20180101000000")
    with pytest.raises(RackError, match="version 20180101000000, older than 20180708231844"):
        connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    assert not Rack.objects.exists() and not fake.resources


def test_the_oldest_rack_the_console_drives_connects(start_fake, org, owner):
    fake = start_fake(generation=2, version="20180708231844")
    assert connect_rack(org, "real", host=fake.url, password=fake.password,
                        user=owner).rack.version == "20180708231844"


def test_a_rack_host_on_a_private_address_is_refused_unless_allowed(
        start_fake, org, owner, settings, monkeypatch):
    fake = start_fake(generation=3)
    monkeypatch.setattr(safety, "resolve", lambda host, port: [
        ipaddress.ip_address("127.0.0.1")])
    host = f"http://rack.internal.test:{fake.port}"
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(RackError, match="private or reserved address"):
        connect_rack(org, "real", host=host, password=fake.password, user=owner)
    assert not fake.requests  # refused before connecting
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert connect_rack(org, "real", host=host, password=fake.password, user=owner).rack


@pytest.mark.parametrize("host, reason", [
    ("", "Give the rack's API host"),
    ("ftp://rack.example.com", "Only http:// and https://"),
    ("https://convox:pw@rack.example.com", "give the password on its own"),
    ("https://rack.example.com/apps", "a scheme, a host name"),
    ("https://rack.example.com:5432", "PostgreSQL"),
])
def test_a_malformed_host_is_said(org, owner, host, reason):
    with pytest.raises(RackError, match=reason):
        connect_rack(org, "real", host=host, password="pw", user=owner)


def test_a_self_signed_rack_is_refused_unless_its_certificate_is_pinned(start_fake, org, owner):
    fake = start_fake(generation=3, tls=True)
    with pytest.raises(RackError, match="TLS error.*pinning"):
        connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)
    rack = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner,
                        tls_fingerprint=fake.fingerprint).rack
    assert rack.tls_fingerprint == fake.fingerprint


def test_a_wrong_pin_is_refused_before_the_password_is_sent(start_fake, org, owner):
    fake = start_fake(generation=3, tls=True)
    wrong = "sha256:" + "ab" * 32
    with pytest.raises(RackError, match="not the pinned one"):
        connect_rack(org, "real", host=fake.url, password=fake.password, user=owner,
                     tls_fingerprint=wrong)
    assert not fake.requests  # no request, so no Authorization header, reached the rack


def test_a_pin_in_openssl_form_is_understood_and_a_bad_one_said(start_fake, org, owner):
    fake = start_fake(generation=3, tls=True)
    hexed = fake.fingerprint.removeprefix("sha256:").upper()
    openssl = ":".join(hexed[i:i + 2] for i in range(0, 64, 2))
    assert connect_rack(org, "real", host=fake.url, password=fake.password, user=owner,
                        tls_fingerprint=openssl).rack.tls_fingerprint == fake.fingerprint
    with pytest.raises(RackError, match="SHA-256"):
        connect_rack(org, "other", host=fake.url, password=fake.password, user=owner,
                     tls_fingerprint="sha256:nothex")


def test_connect_attempts_are_throttled_per_person(fake, org, owner, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "rack_connect_user": "2/hour"}}
    for _ in range(2):
        with pytest.raises(RackError, match="refused the password"):
            connect_rack(org, "real", host=fake.url, password="wrong", user=owner)
    with pytest.raises(RackError, match="Too many attempts"):
        connect_rack(org, "real", host=fake.url, password=fake.password, user=owner)


def test_a_loopback_console_url_is_warned_of_for_a_rack_elsewhere(
        start_fake, org, owner, settings, monkeypatch):
    fake = start_fake(generation=3)
    settings.CONSOLE_URL = "http://127.0.0.1:8000"
    assert not connect_rack(org, "near", host=fake.url, password=fake.password,
                            user=owner).warnings
    monkeypatch.setattr(safety, "resolve", lambda host, port: [
        ipaddress.ip_address("127.0.0.1")])
    far = connect_rack(org, "far", host=f"http://rack.example.test:{fake.port}",
                       password=fake.password, user=owner)
    assert "cannot reach the ingest URL" in far.warnings[0]


def test_disconnecting_removes_the_webhook_from_the_rack(fake, connected):
    assert fake.webhooks()
    assert disconnect_rack(connected) == []
    assert not fake.webhooks() and not Rack.objects.exists()


def test_disconnecting_an_unreachable_rack_says_the_webhook_stayed(fake, connected):
    fake.stop()
    [warning] = disconnect_rack(connected)
    assert "still on the rack" in warning and not Rack.objects.exists()


def test_a_rack_name_the_console_cannot_model_is_refused_before_probing(fake, org, owner):
    with pytest.raises(RackError, match="lower-case letters"):
        connect_rack(org, "Prod Rack!", host=fake.url, password=fake.password, user=owner)
    assert not fake.requests


def test_rack_passwords_move_to_a_new_key_with_the_same_command(fake, org, owner, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from racks.convox import api_for

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    rack = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner).rack
    settings.ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "the passwords of 1 connected rack(s)" in out.getvalue()
    settings.ENCRYPTION_KEYS = [new]
    rack.refresh_from_db()
    api_for(rack).act("GET", "/auth")  # the password still decrypts, and still works
