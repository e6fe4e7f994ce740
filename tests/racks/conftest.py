"""Fixtures of the connected-rack tests: fake Convox racks of both generations on
127.0.0.1 (racks.fake_rack), each stopped by the test that started it."""

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from racks.connect import connect_rack
from racks.drivers import driver_for
from racks.fake_rack import FakeRack
from racks.models import App, Rack
from tests.helpers import wait_for


@pytest.fixture(autouse=True)
def _fake_racks_are_reachable(settings) -> None:
    """The fake racks listen on 127.0.0.1, which outbound safety refuses unless allowed."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.RACK_TIMEOUT_SECONDS = 5.0
    cache.clear()  # connect attempts are throttled in the cache


@pytest.fixture
def start_fake() -> Iterator[Callable[..., FakeRack]]:
    """start_fake(generation=3, ...) is a running fake rack, closed after the test."""
    started: list[FakeRack] = []

    def start(**options: object) -> FakeRack:
        options.setdefault("settle_seconds", 0.1)
        fake = FakeRack(**options).start()
        started.append(fake)
        return fake
    yield start
    for fake in started:
        fake.close()


@pytest.fixture(params=[2, 3], ids=["v2", "v3"])
def fake(request, start_fake) -> FakeRack:
    return start_fake(generation=request.param, name="real")


@pytest.fixture
def connected(fake, org, owner) -> Rack:
    return connect_rack(org, "real", host=fake.url, password=fake.password, user=owner).rack


@pytest.fixture
def app(fake, connected) -> App:
    """An app the console created on the connected rack, its creation finished there."""
    made = driver_for(connected).create_app(connected, "web")
    wait_for(fake.settled, what="the rack finished what it started")
    return made


@contextmanager
def fake_rack_process(*options: str) -> Iterator[tuple[subprocess.Popen, dict[str, str]]]:
    """`manage.py fake_rack` in a process of its own, as a person starts it, with what it
    printed (host, password and, with --tls, the fingerprint); stopped with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_rack", *options], cwd=django_settings.BASE_DIR,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "DEBUG": "true"})
    try:
        printed = {}
        for _ in range(4 if "--tls" in options else 3):
            key, _, value = process.stdout.readline().strip().partition(":")
            printed[key.strip()] = value.strip()
        yield process, printed
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(15)


def sent(fake: FakeRack, method: str, path: str):
    """The requests the fake rack received with this method and path."""
    return [r for r in fake.requests if (r.method, r.path) == (method, path)]
