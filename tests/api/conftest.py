"""Fixtures of the API tests: the organization's people, tokens, and a clean rate limit."""

from collections.abc import Callable

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Throttles count in the cache (Redis db of this run): each test starts at zero."""
    cache.clear()


@pytest.fixture
def people(owner, admin, member, viewer, outsider) -> dict[str, object]:
    """The whole organization, one user of each role, and an outsider, by role."""
    return {"owner": owner, "admin": admin, "member": member, "viewer": viewer,
            "outsider": outsider, "anonymous": None}


@pytest.fixture
def token_client() -> Callable[[object], APIClient]:
    """An API client that authenticates with a real API token of the user."""
    def make(user: object) -> APIClient:
        _, token = AuthToken.objects.create(user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client
    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Logins, tokens and throttles check passwords by the dozen: a slow hasher would make
    these tests slow, not safer."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
