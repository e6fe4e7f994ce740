"""The Django admin. Apps and resources made here go through the rack's driver, so they
emit their events like any other action in the console."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.shortcuts import redirect

from racks.driver import RackError
from racks.drivers import driver_for
from racks.models import (
    App,
    Build,
    Formation,
    Invitation,
    Membership,
    Organization,
    Rack,
    Release,
    Resource,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are sent, answered and revoked in the console."""

    list_display = ("invitee", "organization", "role", "status", "created_at", "expires_at")
    list_filter = ("status", "organization")
    exclude = ("token_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rack)
class RackAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "driver", "version", "instance_count",
                    "instance_type")
    list_filter = ("organization", "driver")
    readonly_fields = ("ingest_token", "driver", "host", "tls_fingerprint", "generation",
                       "webhook_resource", "synced_at", "unreachable_since")
    # The encrypted password is neither shown nor edited here: connect the rack again.
    exclude = ("password_encrypted",)


class ThroughTheDriver(admin.ModelAdmin):
    """Adds and deletes go through the rack's driver: a refusal (RackError) is said on the
    page, not a server error, and a bulk delete deletes each one through the driver too."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except RackError as refused:
            self.message_user(request, f"The rack refused: {refused}", messages.ERROR)
            return redirect(request.path)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().delete_view(request, *args, **kwargs)
        except RackError as refused:
            self.message_user(request, f"The rack refused: {refused}", messages.ERROR)
            return redirect(request.path)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(App)
class AppAdmin(ThroughTheDriver):
    list_display = ("name", "rack", "created_at")
    list_filter = ("rack",)

    def get_readonly_fields(self, request: HttpRequest, obj: App | None = None) -> Any:
        return ("rack", "name") if obj else ()

    def save_model(self, request: HttpRequest, obj: App, form: Any, change: bool) -> None:
        if change:
            return
        created = driver_for(obj.rack).create_app(obj.rack, obj.name)
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: App) -> None:
        driver_for(obj.rack).delete_app(obj)


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = ("id", "logs")


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "build", "active", "created_at")


@admin.register(Formation)
class FormationAdmin(admin.ModelAdmin):
    list_display = ("app", "process", "count")


@admin.register(Resource)
class ResourceAdmin(ThroughTheDriver):
    list_display = ("name", "type", "rack")

    def get_readonly_fields(self, request: HttpRequest, obj: Resource | None = None) -> Any:
        return ("rack", "name", "type") if obj else ()

    def save_model(self, request: HttpRequest, obj: Resource, form: Any, change: bool) -> None:
        if change:
            return
        created = driver_for(obj.rack).create_resource(obj.rack, obj.name, obj.type)
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Resource) -> None:
        driver_for(obj.rack).delete_resource(obj)
