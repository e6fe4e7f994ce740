"""Preferences and webhooks: their API and their settings pages."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from console import converters  # noqa: F401 - registers <id:...>
from notifications import settings_views
from notifications.delivery_api import PreferencesView, WebhookViewSet

router = SimpleRouter()
router.register("api/v1/webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    path("api/v1/preferences/", PreferencesView.as_view(), name="preferences"),
    *router.urls,
    path("settings/notifications/", settings_views.notification_settings,
         name="settings-notifications"),
    path("settings/webhooks/", settings_views.webhook_list, name="settings-webhooks"),
    path("settings/webhooks/<id:endpoint_id>/", settings_views.webhook_detail,
         name="settings-webhook"),
    path("settings/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver/",
         settings_views.redeliver, name="settings-webhook-redeliver"),
]
