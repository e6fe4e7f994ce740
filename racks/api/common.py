"""What every API view of the console shares: strict JSON input, throttles (per client
address, racks.throttling; logins are django-axes'), and the error answers the schema
documents."""

__all__ = ["StrictJSONParser", "SettingsRateThrottle", "Refused", "Gone", "errors",
           "on_membership"]

from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import APIException, PermissionDenied, Throttled
from rest_framework.throttling import ScopedRateThrottle

from racks import invitations, membership
from racks.api.parsers import StrictJSONParser
from racks.serializers import DetailSerializer
from racks.throttling import client_address


class SettingsRateThrottle(ScopedRateThrottle):
    """A scoped throttle that reads its rate when it runs, so a deployment (or a test)
    can change DEFAULT_THROTTLE_RATES without a restart of the class."""

    def get_rate(self) -> str | None:
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)

    def get_ident(self, request: Any) -> str:
        # DRF's own reads X-Forwarded-For whoever sent it: one helper decides for all.
        return client_address(request)


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
