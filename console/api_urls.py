"""/api/ (the REST API and its schema) and /ingest/ (where racks send events)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from console.bounds import ID_MAX
from console.converters import (
    BuildIdConverter,
    NameConverter,
    ReleaseIdConverter,
    TokenIdConverter,
    UsernameConverter,
)
from notifications.api.feed import NotificationViewSet, RackHistoryView
from notifications.api.preferences import PreferencesView
from notifications.api.webhooks import WebhookViewSet
from racks.api import auth, invitations, organizations, racks
from racks.intake.view import ingest


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 of a path no route matches: JSON under /api/ and /ingest/, a page elsewhere."""
    if request.path.startswith(("/api/", "/ingest/")):
        key = "error" if request.path.startswith("/ingest/") else "detail"
        return JsonResponse({key: "Not found."}, status=404)
    return page_not_found(request, exception)


feed_list = NotificationViewSet.as_view({"get": "list"})
feed_item = NotificationViewSet.as_view({"get": "retrieve"})
feed_read = NotificationViewSet.as_view({"post": "read"})
feed_unread = NotificationViewSet.as_view({"post": "unread"})
feed_read_all = NotificationViewSet.as_view({"post": "read_all"})
feed_unread_among = NotificationViewSet.as_view({"post": "unread_among"})
feed_unread_count = NotificationViewSet.as_view({"get": "unread_count"})

webhooks = SimpleRouter()
webhooks.register("api/v1/webhooks", WebhookViewSet, basename="webhook")

RACK = "api/v1/racks/<id:rack_id>/"
APP = RACK + "apps/<name:app>/"

urlpatterns = [
    path("api/v1/preferences/", PreferencesView.as_view(), name="preferences"),
    *webhooks.urls,
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
         name="api-docs"),
    path("api/v1/auth/token/", auth.TokenCreateView.as_view(), name="api-token"),
    path("api/v1/auth/tokens/", auth.TokenListView.as_view(), name="api-tokens"),
    path("api/v1/auth/tokens/<tokenid:token_id>/", auth.TokenRevokeView.as_view(),
         name="api-token-revoke"),
    path("api/v1/auth/ws-ticket/", auth.WsTicketView.as_view(), name="api-ws-ticket"),
    path("api/v1/auth/register/", auth.RegisterView.as_view(), name="api-register"),
    path("api/v1/organizations/", organizations.OrganizationListView.as_view(),
         name="api-organizations"),
    path("api/v1/organizations/<slug:slug>/", organizations.OrganizationDetailView.as_view(),
         name="api-organization"),
    path("api/v1/organizations/<slug:slug>/members/", organizations.MemberListView.as_view(),
         name="api-members"),
    path("api/v1/organizations/<slug:slug>/members/<username:username>/",
         organizations.MemberDetailView.as_view(), name="api-member"),
    path("api/v1/organizations/<slug:slug>/invitations/",
         organizations.OrganizationInvitationsView.as_view(), name="api-org-invitations"),
    path("api/v1/organizations/<slug:slug>/invitations/<id:invitation_id>/",
         organizations.OrganizationInvitationView.as_view(), name="api-org-invitation"),
    path("api/v1/invitations/", invitations.ReceivedInvitationListView.as_view(),
         name="api-invitations"),
    path("api/v1/invitations/<id:invitation_id>/accept/",
         invitations.AcceptInvitationView.as_view(), name="api-invitation-accept"),
    path("api/v1/invitations/<id:invitation_id>/decline/",
         invitations.DeclineInvitationView.as_view(), name="api-invitation-decline"),
    path("api/v1/racks/", racks.RackListView.as_view(), name="api-racks"),
    path(RACK, racks.RackDetailView.as_view(), name="api-rack"),
    path(RACK + "apps/", racks.AppListView.as_view(), name="api-apps"),
    path(APP, racks.AppDetailView.as_view(), name="api-app"),
    path(APP + "builds/", racks.BuildListView.as_view(), name="api-builds"),
    path(APP + "builds/<build:build_id>/", racks.BuildDetailView.as_view(), name="api-build"),
    # Under /api/v1/uploads/: its own body cap, SOURCE_UPLOAD_MAX_BYTES (console.body_limit).
    path("api/v1/uploads/" + APP.removeprefix("api/v1/") + "builds/",
         racks.SourceBuildView.as_view(), name="api-source-build"),
    path(APP + "releases/", racks.ReleaseListView.as_view(), name="api-releases"),
    path(APP + "releases/<release:release_id>/", racks.ReleaseDetailView.as_view(),
         name="api-release"),
    path(APP + "releases/<release:release_id>/promote/", racks.ReleasePromoteView.as_view(),
         name="api-release-promote"),
    path(APP + "scale/", racks.ScaleView.as_view(), name="api-scale"),
    path(RACK + "notifications/", RackHistoryView.as_view(), name="api-rack-notifications"),
    path(RACK + "resources/", racks.ResourceListView.as_view(), name="api-resources"),
    path(RACK + "resources/<name:name>/", racks.ResourceDetailView.as_view(),
         name="api-resource"),
    path("api/v1/notifications/", feed_list, name="api-notifications"),
    path("api/v1/notifications/read-all/", feed_read_all, name="api-notifications-read-all"),
    path("api/v1/notifications/unread/", feed_unread_among,
         name="api-notifications-unread-among"),
    path("api/v1/notifications/unread-count/", feed_unread_count,
         name="api-notifications-unread-count"),
    path("api/v1/notifications/<id:pk>/", feed_item, name="api-notification"),
    path("api/v1/notifications/<id:pk>/read/", feed_read, name="api-notification-read"),
    path("api/v1/notifications/<id:pk>/unread/", feed_unread,
         name="api-notification-unread"),
    path("ingest/<ingest:token>/", ingest, name="ingest"),
]


_PARAMETER_PATTERNS = {
    "app": NameConverter.regex, "name": NameConverter.regex,
    "build_id": BuildIdConverter.regex, "release_id": ReleaseIdConverter.regex,
    "username": UsernameConverter.regex, "token_id": TokenIdConverter.regex,
    "slug": r"[-a-zA-Z0-9_]+",
}


def describe_path_parameters(result: dict, generator: object, request: object,
                             public: bool) -> dict:
    """drf-spectacular postprocessing hook: give each path parameter the pattern its URL
    converter matches, so a client (or a fuzzer) knows which values can exist."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "path":
                    continue
                schema = parameter.setdefault("schema", {})
                if parameter["name"] in _PARAMETER_PATTERNS:
                    schema["pattern"] = f"^{_PARAMETER_PATTERNS[parameter['name']]}$"
                elif schema.get("type") == "integer":
                    schema.update(minimum=0, maximum=ID_MAX)  # console.bounds.ID_PATTERN
    return result
