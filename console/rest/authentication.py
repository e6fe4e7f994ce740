"""API token authentication: knox's, with the token's details read in the same query.

The user and the token's details (racks.models.TokenDetails) come with the token in one
query, so noting when it was last used costs nothing more unless a minute has passed.
As knox does, an expired token is refused (401) and deleted, and so are the user's other
expired tokens.
"""

import binascii
from hmac import compare_digest
from typing import Any

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


class TokenScheme(KnoxTokenScheme):
    """The schema documents it as knox's token scheme (drf-spectacular matches classes
    exactly, not subclasses)."""

    target_class = "console.rest.authentication.TokenAuthentication"
