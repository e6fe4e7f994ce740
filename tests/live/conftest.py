"""Fixtures of the dashboard tests."""

from collections.abc import Callable

import pytest
from django.test import Client


@pytest.fixture
def web(request) -> Callable[[str | None], Client]:
    """A browser-like client logged in as the named fixture user (or anonymous)."""
    def make(who: str | None) -> Client:
        client = Client()
        if who is not None:
            client.force_login(request.getfixturevalue(who))
        return client
    return make
