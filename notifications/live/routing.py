"""Websocket routes. The origin check comes first, so a refused socket costs no database
query, never reaches the consumer and never joins a group; a token, when given, decides
who the socket is, else the session cookie does."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from notifications.live.auth import SameOriginOnly, TokenAuthMiddleware
from notifications.live.consumer import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/",
         SameOriginOnly(AuthMiddlewareStack(TokenAuthMiddleware(
             NotificationConsumer.as_asgi())))),
]
