"""API token authentication: knox's, with the token's details read in the same query.

knox, before it checks a token, sweeps every other token of the user for expired ones
(one extra query per request, then a delete per expired token). Here only the presented
token is looked at: an expired one is refused (401) and deleted, as knox does. The user
and the token's details (racks.models.TokenDetails) come with the token in one query, so
noting when it was last used costs nothing more unless a minute has passed.
"""

import binascii
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.exceptions import AuthenticationFailed

from racks.accounts import note_token_used


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        """The active user and the token of a key; AuthenticationFailed otherwise."""
        key = token.decode("utf-8")
        for auth_token in AuthToken.objects.filter(
                token_key=key[:CONSTANTS.TOKEN_KEY_LENGTH]).select_related("user", "details"):
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(key)
            except (TypeError, binascii.Error):
                raise AuthenticationFailed("Invalid token.") from None
            if compare_digest(digest, auth_token.digest):
                user, auth_token = self.validate_user(auth_token)
                note_token_used(auth_token)
                return user, auth_token
        raise AuthenticationFailed("Invalid token.")

    def _cleanup_token(self, auth_token: Any) -> bool:
        """True (skip this token) when it has expired; only this token is looked at."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The schema documents it as knox's token scheme (drf-spectacular matches classes
    exactly, not subclasses)."""

    target_class = "console.rest.authentication.TokenAuthentication"
