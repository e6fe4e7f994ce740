"""API token authentication: knox's, minus a query on every request.

knox, before it checks a token, sweeps every other token of the user for expired ones
(one extra query per request, then a delete per expired token). Our tokens never expire
(REST_KNOX["TOKEN_TTL"] is None), so that sweep finds nothing and costs a round trip on
every API call. A token that does carry an expiry is still refused, and deleted, once
it has passed, as knox does.
"""

from typing import Any

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication


class TokenAuthentication(KnoxTokenAuthentication):
    def _cleanup_token(self, auth_token: Any) -> bool:
        """True (skip this token) when it has expired; only this token is looked at."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The schema documents it as knox's token scheme (drf-spectacular matches classes
    exactly, not subclasses)."""

    target_class = "racks.api.authentication.TokenAuthentication"
