"""Websocket routes. The origin check comes first, so a refused socket costs no database
query, never reaches the consumer and never joins a group; a token, when given, decides
who the socket is, else the session cookie does."""

from django.urls import path

from notifications.live.auth import SameOriginOnly, SessionAuthMiddleware, TokenAuthMiddleware
from notifications.live.consumer import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/",
         SameOriginOnly(TokenAuthMiddleware(SessionAuthMiddleware(
             NotificationConsumer.as_asgi())))),
]
