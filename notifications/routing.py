"""Websocket routes. Origin and token checks wrap the consumer, so a refused socket never
reaches it (and never joins a group)."""

from django.urls import path

from notifications.consumers import NotificationConsumer
from notifications.ws_auth import SameOriginOnly, TokenAuthMiddleware

websocket_urlpatterns = [
    path("ws/notifications/",
         SameOriginOnly(TokenAuthMiddleware(NotificationConsumer.as_asgi()))),
]
