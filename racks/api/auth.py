"""Accounts and API tokens: register, get a token, list and revoke your tokens."""

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from racks.api.common import (
    LoginAddressRateThrottle,
    LoginRateThrottle,
    SettingsRateThrottle,
    errors,
)
from racks.serializers import (
    RegisterSerializer,
    TokenInfoSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserSerializer,
)


class TokenCreateView(APIView):
    """Trade a username and password for an API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle, LoginAddressRateThrottle]

    @extend_schema(request=TokenRequestSerializer,
                   responses={200: TokenSerializer, **errors(400, 429)},
                   summary="Get an API token", tags=["auth"])
    def post(self, request: Request) -> Response:
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate(request, username=given.validated_data["username"],
                            password=given.validated_data["password"])
        if user is None:
            raise ValidationError({"non_field_errors": [
                "That username and password do not match an active account."]})
        _, token = AuthToken.objects.create(user)
        return Response({"token": token})


class TokenListView(APIView):
    @extend_schema(responses={200: TokenInfoSerializer(many=True), **errors(401)},
                   summary="List your API tokens (never their secret)", tags=["auth"])
    def get(self, request: Request) -> Response:
        tokens = AuthToken.objects.filter(user=request.user).order_by("-created")
        return Response(TokenInfoSerializer(tokens, many=True).data)


class TokenRevokeView(APIView):
    @extend_schema(responses={204: None, **errors(401, 404)},
                   summary="Revoke one of your API tokens", tags=["auth"])
    def delete(self, request: Request, token_id: str) -> Response:
        deleted, _ = AuthToken.objects.filter(user=request.user,
                                              digest__startswith=token_id).delete()
        if not deleted:
            raise NotFound("You have no token with that id.")
        return Response(status=status.HTTP_204_NO_CONTENT)


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
