"""The console's URLs; each part keeps its own module."""

from django.contrib import admin
from django.urls import include, path

from console.metrics import metrics_view
from console.views.accounts import ThrottledPasswordResetView

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # Before Django's own: the same view, throttled (console.views.accounts).
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(),
         name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("console.api_urls")),  # /api/ (REST, schema) and /ingest/
    path("", include("console.page_urls")),  # the dashboard pages
]

# API clients get a JSON 404 for a path that matches no route; people get the page.
handler404 = "console.api_urls.not_found"
