"""What every API view of the console shares: strict JSON input, throttles, and the
error answers the schema documents."""

__all__ = ["StrictJSONParser", "SettingsRateThrottle", "LoginRateThrottle",
           "LoginAddressRateThrottle", "Refused", "Gone", "errors", "on_membership"]

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import APIException, PermissionDenied, Throttled
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from racks import invitations, membership
from racks.api.parsers import StrictJSONParser
from racks.serializers import DetailSerializer


class SettingsRateThrottle(ScopedRateThrottle):
    """A scoped throttle that reads its rate when it runs, so a deployment (or a test)
    can change DEFAULT_THROTTLE_RATES without a restart of the class."""

    def get_rate(self) -> str | None:
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)


class LoginAddressRateThrottle(SimpleRateThrottle):
    """A loose cap per address, so one client cannot try every account in turn."""

    scope = "login_address"

    def __init__(self) -> None:  # the rate is read when the request comes, not at import
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        self.rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(LoginAddressRateThrottle):
    """Password guesses are counted per account, not per address: hammering one account
    slows that account down and leaves everyone else behind the same address alone."""

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            return super().get_cache_key(request, view)
        ident = hashlib.sha256(username.lower().encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an operation, by status code."""
    text = {
        400: "The input is not valid; the body says what is wrong, field by field.",
        401: "Not logged in and no valid `Authorization: Token <key>`.",
        403: "Your role in the organization does not allow this.",
        404: "Not found, or not in one of your organizations.",
        410: "It expired, was revoked, or was already answered.",
        429: "Too many requests; wait for the seconds in Retry-After.",
    }
    shapes: dict[int, Any] = {400: OpenApiTypes.OBJECT}
    return {code: OpenApiResponse(response=shapes.get(code, DetailSerializer),
                                  description=text[code]) for code in codes}


READ = (401, 404)
CHANGE = (400, 401, 403, 404)


class Gone(APIException):
    """410: what was asked for existed but cannot be used any more."""

    status_code = 410
    default_code = "gone"


class Refused(APIException):
    """A change the rack or the organization refused: 400 {"error": "<why>"}."""

    status_code = 400
    default_code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__({"error": message})


def on_membership(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a change of racks.membership or racks.invitations; its refusals are the
    caller's 403, 400, 410 or 429."""
    try:
        return call(*args, **kwargs)
    except membership.MembershipForbidden as exc:
        raise PermissionDenied(str(exc)) from None
    except membership.MembershipError as exc:
        raise Refused(str(exc)) from None
    except invitations.InvitationGone as exc:
        raise Gone(str(exc)) from None
    except invitations.InvitationThrottled as exc:
        raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
