"""Outgoing requests go to public addresses only, checked at save time and at connect time.

No test here sends a packet anywhere but 127.0.0.1: refusals happen before any connect,
and host names are answered by a patched resolver (system DNS is made to fail loudly).
"""

import asyncio
import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from console.outbound import client, safety
from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.outbox import attempt_deliveries
from notifications.models import Delivery, DeliveryStatus

REFUSED = [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "192.0.2.10", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::10.0.0.1",
    "2002:a00:1::", "2002:7f00:1::", "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::a00:1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, carrying 10.0.0.1
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e"]


@pytest.fixture(autouse=True)
def _no_system_dns(monkeypatch) -> None:
    """Any real name lookup here would be a packet off this machine: fail instead."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        try:
            ipaddress.ip_address(str(host).split("%")[0])
        except ValueError:
            raise AssertionError(f"system DNS was asked for {host}") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def post(url: str, headers: dict[str, str] | None = None) -> client.Reply:
    """What a webhook does: one POST through the outbound client's one entry point."""
    return asyncio.run(client.Client().send("POST", url, b"{}", headers or {}))


def _resolver(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    asked: list[str] = []

    def resolve(host: str, port: int):
        asked.append(host)
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        if host not in answers:
            raise safety.UnsafeURL(f"The host name {host} does not resolve.")
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(safety, "resolve", resolve)
    return asked


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not safety.is_allowed_address(ipaddress.ip_address(address))
    with pytest.raises(safety.UnsafeURL, match="private or reserved"):
        safety.check_url(f"https://[{address}]/hook" if ":" in address
                         else f"https://{address}/hook")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert safety.is_allowed_address(ipaddress.ip_address(address))


def test_allowed_networks_open_a_private_range(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not safety.is_allowed_address(ipaddress.ip_address("10.1.2.3"))
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.1.0.0/16", "fd00::/8"]
    assert safety.is_allowed_address(ipaddress.ip_address("10.1.2.3"))
    assert safety.is_allowed_address(ipaddress.ip_address("::ffff:10.1.2.3"))
    assert safety.is_allowed_address(ipaddress.ip_address("fd00::5"))
    assert not safety.is_allowed_address(ipaddress.ip_address("10.2.0.1"))


@pytest.mark.parametrize("url,message", [
    ("ftp://8.8.8.8/hook", "Only http:// and https://"),
    ("file:///etc/passwd", "Only http:// and https://"),
    ("javascript:alert(1)", "Only http:// and https://"),
    ("http:///nohost", "no host"),
    ("http://8.8.8.8:99999/", "not a valid URL"),
    ("http://unknown.invalid/", "does not resolve"),
])
def test_urls_that_are_not_web_addresses_are_refused(monkeypatch, url, message):
    _resolver(monkeypatch, {})
    with pytest.raises(safety.UnsafeURL, match=message):
        safety.check_url(url)


def test_a_name_with_any_private_address_is_refused(monkeypatch, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    _resolver(monkeypatch, {"mixed.example.test": ["8.8.8.8", "10.0.0.7"]})
    with pytest.raises(safety.UnsafeURL, match="10.0.0.7"):
        safety.check_url("https://mixed.example.test/hook")


def test_the_refusal_names_the_setting_that_allows_a_private_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(safety.UnsafeURL, match="OUTBOUND_ALLOWED_NETWORKS"):
        safety.check_url("http://10.1.2.3/hook")


def test_the_older_setting_name_is_joined_to_the_allowed_networks():
    """An operator's environment with WEBHOOK_ALLOWED_NETWORKS still opens its network."""
    shown = subprocess.run(
        [sys.executable, "-c",
         "from console import settings; print(settings.OUTBOUND_ALLOWED_NETWORKS)"],
        env={**os.environ, "DEBUG": "true", "OUTBOUND_ALLOWED_NETWORKS": "10.2.0.0/16",
             "WEBHOOK_ALLOWED_NETWORKS": "10.1.0.0/16"},
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == "['10.2.0.0/16', '10.1.0.0/16']", shown.stderr


# Ports: 80, 443 and 1024-65535 minus internal services', at save and at connect.

REFUSED_PORTS = [0, 1, 22, 25, 111, 1023, 2375, 2379, 3306, 5432, 6379, 6443, 8500, 9200,
                 10250, 11211, 27017]


@pytest.mark.parametrize("port", REFUSED_PORTS)
def test_ports_of_system_and_internal_services_are_refused(port):
    with pytest.raises(safety.UnsafeURL, match=f"Port {port} "):
        safety.check_url(f"https://8.8.8.8:{port}/hook")


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "http://8.8.8.8/hook",
                                 "http://8.8.8.8:80/", "https://8.8.8.8:443/",
                                 "https://8.8.8.8:1024/", "https://8.8.8.8:8080/",
                                 "https://8.8.8.8:65535/"])
def test_web_and_high_ports_are_allowed(url):
    safety.check_url(url)


def test_the_api_refuses_a_denied_port_with_a_message(client_for, member):
    answer = client_for(member).post("/api/v1/webhooks/", {
        "url": "http://8.8.8.8:6379/", "events": ["*"]}, format="json")
    assert answer.status_code == 400
    assert "Port 6379 is Redis's" in answer.json()["url"][0]


def test_the_webhooks_page_refuses_a_low_port_with_a_message(client_for, member):
    from notifications.models import WebhookEndpoint

    answer = client_for(member).post("/settings/webhooks/", {
        "url": "http://8.8.8.8:22/hook", "format": "standard", "events": ["*"]})
    assert answer.status_code == 400
    assert "Port 22 is not allowed" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_name_of_an_allowed_address_on_a_denied_port_is_refused_at_connect(
        monkeypatch, db, member, rack, emit):
    """Saved before the rule (or by a path that skipped it): the attempt refuses the port
    before any lookup or connection, though 127.0.0.1 is an allowed network here and a
    Redis really listens on 127.0.0.1:6379."""
    asked = _resolver(monkeypatch, {"cache.example.test": ["127.0.0.1"]})
    endpoint, _ = create_endpoint(member, url="http://cache.example.test:6379/", events=["*"])
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempt_deliveries([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED  # permanent: no retry
    assert "Port 6379 is Redis's" in delivery.last_error
    assert asked == []


def test_the_request_goes_to_the_checked_address_with_the_original_host(monkeypatch, receiver):
    asked = _resolver(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    reply = post(f"http://hooks.example.test:{receiver.port}/hook",
                 {"Content-Type": "application/json"})
    assert reply.status_code == 200
    assert asked == ["hooks.example.test"]  # resolved once, by the checked resolver
    assert receiver.requests[0].headers["host"] == f"hooks.example.test:{receiver.port}"


def test_a_name_that_resolves_to_a_private_address_when_sent_is_refused(monkeypatch,
                                                                        settings, receiver):
    """The client resolves and checks at each attempt, then connects to what it checked."""
    answers = {"rebind.example.test": ["127.0.0.1"]}
    asked = _resolver(monkeypatch, answers)
    url = f"http://rebind.example.test:{receiver.port}/hook"
    safety.check_url(url)  # passes at save time
    answers["rebind.example.test"] = ["10.0.0.1"]
    with pytest.raises(safety.UnsafeURL, match="resolves to 10.0.0.1"):
        post(url)
    assert asked == ["rebind.example.test"] * 2 and receiver.requests == []


def test_the_next_address_of_a_host_is_tried_when_one_refuses(monkeypatch, receiver):
    # Nothing listens on 127.0.0.2 at the receiver's port (it is bound to 127.0.0.1).
    _resolver(monkeypatch, {"hooks.example.test": ["127.0.0.2", "127.0.0.1"]})
    reply = post(f"http://hooks.example.test:{receiver.port}/hook")
    assert reply.status_code == 200 and len(receiver.requests) == 1


def test_a_host_whose_every_address_refuses_is_unreachable(monkeypatch, receiver):
    _resolver(monkeypatch, {"hooks.example.test": ["127.0.0.2"]})
    with pytest.raises(client.Unreachable, match="Could not connect to hooks.example.test"):
        post(f"http://hooks.example.test:{receiver.port}/hook")


def test_dns_rebinding_at_connect_time_is_refused(monkeypatch, settings, db, member, rack,
                                                  receiver, emit):
    """Public when saved, private when sent: refused before any connection is made."""
    answers = {"rebind.example.test": ["127.0.0.1"]}
    _resolver(monkeypatch, answers)
    endpoint, _ = create_endpoint(member, url=f"http://rebind.example.test:{receiver.port}/h",
                                  events=["*"])
    safety.check_url(endpoint.url)  # passes at save time
    answers["rebind.example.test"] = ["10.0.0.1"]
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempt_deliveries([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED  # permanent: no retry
    assert "10.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_an_address_that_became_forbidden_is_not_called(settings, db, member, rack, receiver,
                                                        emit):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempt_deliveries([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "127.0.0.1" in delivery.last_error and receiver.requests == []


def test_redirects_are_not_followed(monkeypatch, receiver):
    from tests.delivery.conftest import Answer

    receiver.answer(Answer(status=307, headers={"Location": "http://10.0.0.1/"}))
    reply = post(receiver.url)
    assert reply.status_code == 307 and len(receiver.requests) == 1


def test_the_api_refuses_a_private_url_with_a_message(client_for, member, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    answer = client_for(member).post("/api/v1/webhooks/", {
        "url": "http://[::ffff:169.254.169.254]/latest", "events": ["*"]}, format="json")
    assert answer.status_code == 400
    assert "private or reserved" in answer.json()["url"][0]


def _self_signed(host: str, tmp_path) -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_receiver(receiver, tmp_path, monkeypatch):
    """The receiver behind TLS with a certificate for hooks.example.test, which the
    console's TLS context is made to trust."""
    import ssl

    cert, key = _self_signed("hooks.example.test", tmp_path)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    receiver._server.socket = server_side.wrap_socket(receiver._server.socket, server_side=True)
    client_side = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr(client, "tls_context", lambda: client_side)
    return receiver


def test_https_to_the_pinned_address_checks_the_certificate_of_the_host_name(
        monkeypatch, tls_receiver):
    _resolver(monkeypatch, {"hooks.example.test": ["127.0.0.1"],
                            "other.example.test": ["127.0.0.1"]})
    reply = post(f"https://hooks.example.test:{tls_receiver.port}/hook")
    assert reply.status_code == 200
    assert tls_receiver.requests[0].headers["host"] == f"hooks.example.test:{tls_receiver.port}"
    # The same address under another name: the certificate does not match, so no request.
    with pytest.raises(client.TLSError, match="certificate of other.example.test is not trusted"):
        post(f"https://other.example.test:{tls_receiver.port}/hook")
    assert len(tls_receiver.requests) == 1


def test_the_url_path_query_and_credentials_reach_the_receiver(receiver):
    import base64

    reply = post(f"http://hook:s%20cret@127.0.0.1:{receiver.port}/in/caf\u00e9 au lait?to=ops",
                 {"Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.body == b"ok"
    [request] = receiver.requests
    assert request.path == "/in/caf%C3%A9%20au%20lait?to=ops"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"hook:s cret").decode()
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
