"""Accounts and API tokens: register, get a token, list and revoke your tokens, get a
websocket ticket. The changes themselves are racks.accounts'."""

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import (
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.rest.common import SettingsRateThrottle, errors
from console.rest.pages import NewestFirst, paged, paged_schema
from racks import accounts
from racks.serializers import (
    RegisterSerializer,
    TokenInfoSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSerializer,
    WsTicketSerializer,
)
from racks.throttling import LOCKED_OUT


class LockedOut(Throttled):
    """A login django-axes refused: too many failures for the account or the address."""

    def __init__(self) -> None:
        cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
        super().__init__(wait=cool_off,
                         detail=LOCKED_OUT.format(minutes=int(cool_off // 60)))


class TokenCreateView(APIView):
    """Trade a username and password for an API token.

    django-axes counts the failures per account (the username as racks.throttling
    normalises it) and per client address; past the limit the answer is 429 for the
    cool-off, for every username alike, so it says nothing about who has an account.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer,
                   responses={200: TokenSerializer, **errors(400, 429)},
                   summary="Get an API token", tags=["auth"])
    def post(self, request: Request) -> Response:
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate(request, username=given.validated_data["username"],
                            password=given.validated_data["password"])
        if getattr(request, "axes_locked_out", False):
            raise LockedOut()
        if user is None:
            raise ValidationError({"non_field_errors": [
                "That username and password do not match an active account."]})
        token, key = accounts.issue_token(user, name=given.validated_data["name"],
                                          days=given.validated_data["expires_in_days"])
        return Response(TokenSerializer({"token": key, "expires_at": token.expiry}).data)


class TokenPages(NewestFirst):
    ordering = ("-created", "-digest")  # knox's columns


class TokenListView(APIView):
    @extend_schema(**paged_schema("TokenPage", TokenInfoSerializer, errors(401, 404)),
                   operation_id="v1_auth_tokens_list",
                   summary="List your API tokens (never their secret)", tags=["auth"])
    def get(self, request: Request) -> Response:
        return paged(request, self, accounts.tokens_of(request.user), TokenInfoSerializer,
                     TokenPages)


class TokenRevokeView(APIView):
    @extend_schema(responses={204: None, **errors(401, 404)},
                   summary="Revoke one of your API tokens", tags=["auth"],
                   description="It stops working at once, and the websockets opened with "
                               "it close.")
    def delete(self, request: Request, token_id: str) -> Response:
        if not accounts.revoke_token(request.user, token_id):
            raise NotFound("You have no token with that id.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WsTicketView(APIView):
    @extend_schema(request=None, responses={200: WsTicketSerializer, **errors(401)},
                   summary="Get a websocket ticket", tags=["auth"],
                   description="A single-use ticket, valid 30 seconds, for "
                               "`/ws/notifications/?ticket=<ticket>`: a program's socket "
                               "without its token in the URL.")
    def post(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, AuthToken) else None
        ticket = accounts.issue_ws_ticket(request.user, token)
        return Response({"ticket": ticket, "expires_in": accounts.WS_TICKET_SECONDS})


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SettingsRateThrottle]
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer,
                   responses={201: UserSerializer, **errors(400, 403, 429)},
                   summary="Create an account", tags=["auth"],
                   description="Answers 403 when this deployment has registration turned off.")
    def post(self, request: Request) -> Response:
        if not settings.REGISTRATION_OPEN:
            raise PermissionDenied("Registration is closed on this console: ask an "
                                   "administrator for an account.")
        given = RegisterSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(
                    given.validated_data["username"], given.validated_data["email"],
                    given.validated_data["password"])
        except IntegrityError:
            raise ValidationError({"username": ["That username is taken."]}) from None
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)
