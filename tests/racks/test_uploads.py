"""A build's source reaches a connected rack's objects endpoint as a stream: from the
temporary file the server spooled the upload to, in chunks, with its length when known,
refused over SOURCE_UPLOAD_MAX_BYTES before anything is sent when its size is declared."""

import os
import tracemalloc
from functools import partial

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from racks.accounts import issue_token
from racks.connect import connect_rack
from racks.convox import api_for
from racks.driver import UPLOAD_CHUNK_BYTES, RackError, Source
from racks.drivers import driver_for
from racks.models import App, Build
from tests.browser.conftest import web_server  # noqa: F401 - a fixture
from tests.helpers import wait_for
from tests.racks.conftest import fake_rack_process
from tests.racks.test_pages import flashes

# Larger than what Django keeps in memory: the upload is spooled to a temporary file.
LARGER_THAN_MEMORY = django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 512 * 1024


def uploads(fake) -> list:
    return [r for r in fake.requests if r.method == "POST" and "/objects/" in r.path]


@pytest.fixture
def loopback_racks(monkeypatch) -> None:
    """The web processes the test starts may call the fake racks on 127.0.0.1."""
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")


def test_an_api_upload_larger_than_memory_arrives_at_the_rack_byte_for_byte(
        loopback_racks, web_server, start_fake, org, owner, member):  # noqa: F811
    fake = start_fake(generation=3)
    rack = connect_rack(org, "real", host=fake.url, password=fake.password, user=owner).rack
    App.objects.create(rack=rack, name="web")
    fake.create_app({"name": "web"})
    source = os.urandom(LARGER_THAN_MEMORY)
    _, token = issue_token(member)
    base = web_server()
    response = httpx.post(f"{base}/api/v1/uploads/racks/{rack.pk}/apps/web/builds/",
                          content=source, timeout=30,
                          headers={"Authorization": f"Token {token}",
                                   "Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    [upload] = uploads(fake)
    assert upload.body == source
    assert upload.headers["content-length"] == str(len(source))
    assert response.json()["id"] in fake.builds


def test_a_dashboard_upload_larger_than_memory_arrives_at_the_rack_byte_for_byte(
        client_for, fake, connected, member):
    App.objects.create(rack=connected, name="web")
    fake.create_app({"name": "web"})
    source = os.urandom(LARGER_THAN_MEMORY)
    response = client_for("member").post(
        f"/uploads/racks/{connected.pk}/apps/web/builds/",
        {"source": SimpleUploadedFile("src.tgz", source)}, follow=True)
    assert flashes(response)[0][0] == "success", flashes(response)
    [upload] = uploads(fake)
    assert upload.body == source
    assert upload.headers["content-length"] == str(len(source))


def test_a_dashboard_upload_over_the_cap_is_refused_and_nothing_is_sent(
        client_for, fake, connected, member, settings):
    App.objects.create(rack=connected, name="web")
    fake.create_app({"name": "web"})
    settings.SOURCE_UPLOAD_MAX_BYTES = 1000
    response = client_for("member").post(
        f"/uploads/racks/{connected.pk}/apps/web/builds/",
        {"source": SimpleUploadedFile("src.tgz", os.urandom(1001))})
    assert response.status_code == 400
    assert b"The source is larger than SOURCE_UPLOAD_MAX_BYTES (1000 bytes)." in \
        response.content
    assert not uploads(fake) and not Build.objects.exists()


def test_a_source_of_undeclared_size_is_sent_chunked_and_stopped_at_the_cap(
        fake, connected, settings):
    app = App.objects.create(rack=connected, name="web")
    fake.create_app({"name": "web"})
    parts = [os.urandom(UPLOAD_CHUNK_BYTES) for _ in range(3)]
    driver_for(connected).start_build(app, source=Source.of(iter(parts)))
    [upload] = uploads(fake)
    assert upload.body == b"".join(parts) and "content-length" not in upload.headers
    assert upload.headers["transfer-encoding"] == "chunked"

    settings.SOURCE_UPLOAD_MAX_BYTES = 2 * UPLOAD_CHUNK_BYTES
    with pytest.raises(RackError, match=r"larger than SOURCE_UPLOAD_MAX_BYTES \(131072"):
        driver_for(connected).start_build(app, source=Source.of(iter(parts)))
    assert Build.objects.count() == 1  # the build of the first source only


@pytest.fixture
def rack_process(org, owner):
    """A fake rack in a process of its own (manage.py fake_rack), so that what it holds
    is not counted in this process's memory."""
    with fake_rack_process("--settle-seconds", "0.1") as (_, printed):
        yield connect_rack(org, "apart", host=printed["host"], password=printed["password"],
                           user=owner).rack


def test_forwarding_a_source_does_not_hold_it_in_memory(rack_process, tmp_path, settings):
    settings.RACK_UPLOAD_TIMEOUT_SECONDS = 60.0
    app = driver_for(rack_process).create_app(rack_process, "web")
    wait_for(lambda: api_for(rack_process).read("/apps/web")["status"] == "running")
    size = 20 * 1024 * 1024
    path = tmp_path / "src.tgz"
    with path.open("wb") as out:
        for _ in range(size // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
    with path.open("rb") as spooled:
        tracemalloc.start()
        try:
            build = driver_for(rack_process).start_build(app, source=Source.of(
                iter(partial(spooled.read, UPLOAD_CHUNK_BYTES), b""), size))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert build.id.startswith("B")
    assert peak < size / 10, f"forwarding {size} bytes peaked at {peak} bytes"
