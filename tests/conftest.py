"""Shared fixtures: one organization with a user of each role, an outsider, a rack."""

import functools
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework.test import APIClient

from racks.models import Membership, Organization, Rack, Role

PASSWORD = "correct-horse-battery-staple"
TIERS = {"browser": pytest.mark.browser, "reliability": pytest.mark.reliability}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/browser and tests/reliability carries its folder's mark, so that
    `scripts/test --fast` (-m "not browser and not reliability") leaves out all of them."""
    for item in items:
        folder = item.path.parent.name
        if folder in TIERS:
            item.add_marker(TIERS[folder])


@pytest.fixture(autouse=True)
def _fast_local_rack(settings) -> None:
    settings.LOCAL_RACK_BUILD_SECONDS = 0.2
    settings.LOCAL_RACK_DEPLOY_SECONDS = 0.3


@functools.cache
def _hashed_password(hashers: tuple[str, ...]) -> str:
    """PASSWORD as the configured hasher stores it, hashed once: hashing it again for each
    user made each test of five users take seconds."""
    return make_password(PASSWORD)


@pytest.fixture
def make_user(db, settings) -> Callable[..., object]:
    """make_user("ann") is a user whose password is PASSWORD; keywords set other fields."""
    def make(username: str, **extra: object):
        return get_user_model().objects.create(
            username=username, email=f"{username}@example.com",
            password=_hashed_password(tuple(settings.PASSWORD_HASHERS)), **extra)
    return make


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(name="Acme", slug="acme")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(name="Globex", slug="globex")


def _member(make_user, org: Organization, username: str, role: Role):
    user = make_user(username)
    Membership.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def owner(make_user, org):
    return _member(make_user, org, "olivia", Role.OWNER)


@pytest.fixture
def admin(make_user, org):
    return _member(make_user, org, "adam", Role.ADMIN)


@pytest.fixture
def member(make_user, org):
    return _member(make_user, org, "mia", Role.MEMBER)


@pytest.fixture
def viewer(make_user, org):
    return _member(make_user, org, "victor", Role.VIEWER)


@pytest.fixture
def outsider(make_user, other_org):
    return _member(make_user, other_org, "oscar", Role.OWNER)


@pytest.fixture
def rack(org) -> Rack:
    return Rack.objects.create(organization=org, name="production", version="3.24.6")


@pytest.fixture
def other_rack(other_org) -> Rack:
    return Rack.objects.create(organization=other_org, name="globex-prod")


@pytest.fixture
def client_for(request) -> Callable[[object], APIClient]:
    """A client logged in (by session) as someone, for the pages and the API alike.

    client_for("viewer") is logged in as the organization's viewer (any user fixture may
    be named: "owner", "admin", "member", "viewer", "outsider"), client_for(user) as that
    user, client_for("anonymous") as nobody. `client.user` is who it is logged in as.
    """
    def make(who: object) -> APIClient:
        if who == "anonymous":
            user = None
        elif isinstance(who, str):
            user = request.getfixturevalue(who)
        else:
            user = who
        client = APIClient()
        if user is not None:
            client.force_login(user)
        client.user = user
        return client
    return make


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[object]:
    """A real Celery worker (threads in this process) on the configured broker."""
    from celery.contrib.testing.worker import start_worker

    from console.celery import app

    if not app.conf.broker_url.startswith("memory"):
        app.control.purge()
    # The worker stops once its wait on the Redis queue returns: a second by default, a
    # second at the end of each of these tests.
    options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {**options, "polling_interval": 0.1}
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                          shutdown_timeout=30) as worker:
            yield worker
    finally:
        app.conf.broker_transport_options = options
    close_idle_sessions()


def close_idle_sessions() -> None:
    """End the idle connections that stopped worker threads left open on the test database
    (each thread kept its own), so that a long run never runs out of connections."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'idle' AND application_name = ''")
