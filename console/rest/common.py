"""What every API view of the console shares: strict JSON input, throttles (per client
address, racks.throttling; logins are django-axes'), and the error answers the schema
documents."""

__all__ = ["StrictJSONParser", "SettingsRateThrottle", "Refused", "Gone", "errors",
           "on_membership", "CursorPages"]

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Field, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, Throttled
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from console import rate_limit
from console.bounds import in_utc
from console.rest.parsers import StrictJSONParser
from racks import invitations, membership
from racks.serializers import DetailSerializer
from racks.throttling import client_address


class SettingsRateThrottle(BaseThrottle):
    """The view's `throttle_scope` rate, per client address, counted by console.rate_limit:
    the same count as the page of that scope (the register page and API share one)."""

    def __init__(self) -> None:
        self.seconds = 0

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if scope not in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]:
            return True
        self.seconds = rate_limit.seconds_until_allowed(scope, client_address(request))
        return not self.seconds

    def wait(self) -> float:
        return self.seconds


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


class CursorPages(CursorPagination):
    """DRF's cursor pages, with the cursor's position checked before it reaches a query.

    Every paginated list of the API uses this class (or a subclass that sets `ordering`).
    A cursor is base64 that a client can forge, and DRF puts its position into the query
    as the text it found: a position that is not a value of the ordering's first field,
    or one its column cannot hold (an id of 25 digits or 5,000, a time that falls off
    the calendar in UTC), was a 500. Such a cursor is the same 404 as an unreadable one.
    """

    _position_field: Field | None = None

    def paginate_queryset(self, queryset: QuerySet, request: Request,
                          view: Any = None) -> list | None:
        first = self.get_ordering(request, queryset, view)[0].lstrip("-")
        self._position_field = queryset.model._meta.get_field(first)
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self._position_fits(cursor.position):
            return cursor
        raise NotFound(self.invalid_cursor_message)

    def _position_fits(self, position: str) -> bool:
        field = self._position_field
        if field is None:
            return True
        field = field.target_field if field.is_relation else field
        try:
            value = field.to_python(position)
        except ValidationError:
            return False
        if isinstance(value, int):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            return (low is None or value >= low) and (high is None or value <= high)
        if isinstance(value, datetime) and value.tzinfo is not None:
            return in_utc(value) is not None
        return True
