"""Fixtures of the connected-rack tests: fake Convox racks of both generations on
127.0.0.1 (racks.fake_rack), each stopped by the test that started it."""

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache

from racks.connect import connect_rack
from racks.fake_rack import FakeRack
from racks.models import Rack


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


def sent(fake: FakeRack, method: str, path: str):
    """The requests the fake rack received with this method and path."""
    return [r for r in fake.requests if (r.method, r.path) == (method, path)]
