"""Racks and what runs on them. Every action goes through the rack's driver, so the
events it causes reach the feed through the same pipeline as a real rack's."""

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from racks import membership
from racks.api.common import CHANGE, READ, CursorPages, Refused, errors, on_membership
from racks.driver import RackError, driver_for
from racks.models import (
    ACTING_ROLES,
    MANAGING_ROLES,
    App,
    Build,
    Rack,
    Release,
    Resource,
    Role,
)
from racks.permissions import (
    RoleAllowsChange,
    organization_for,
    rack_for,
    require_managing,
    require_role,
    visible_racks,
)
from racks.serializers import (
    AppCreateSerializer,
    AppSerializer,
    BuildCreateSerializer,
    BuildSerializer,
    FormationSerializer,
    RackCreateSerializer,
    RackSerializer,
    RackUpdateSerializer,
    ReleaseCreateSerializer,
    ReleaseSerializer,
    ResourceCreateSerializer,
    ResourceSerializer,
    ScaleSerializer,
)


def on_rack(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a driver operation; a refusal by the rack is the caller's 400."""
    try:
        return call(*args, **kwargs)
    except RackError as exc:
        raise Refused(str(exc)) from None


class NewestFirst(CursorPages):
    ordering = ("-created_at", "-id")
    page_size = 20


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name=name, fields={
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item,
    })


class RackViewBase(APIView):
    """A view below /racks/<rack_id>/: the rack must be one of the caller's (404), and a
    change needs one of `change_roles` (403)."""

    permission_classes = [IsAuthenticated, RoleAllowsChange]
    change_roles: tuple[Role, ...] = ACTING_ROLES
    change_doing = "act on its racks"

    def rack_and_role(self) -> tuple[Rack, Role]:
        if not hasattr(self, "_rack_and_role"):
            self._rack_and_role = rack_for(self.request.user, self.kwargs["rack_id"])
        return self._rack_and_role

    @property
    def rack(self) -> Rack:
        return self.rack_and_role()[0]

    def check_change(self, request: Request) -> None:
        rack, role = self.rack_and_role()
        require_role(role, self.change_roles, self.change_doing, rack.organization)

    def app(self) -> App:
        found = App.objects.select_related("rack").filter(
            rack=self.rack, name=self.kwargs["app"]).first()
        if found is None:
            raise Http404(f"No app named {self.kwargs['app']} on {self.rack.name}.")
        return found

    def context(self) -> dict[str, Any]:
        return {"request": self.request, "role": self.rack_and_role()[1].value}

    def newest_first(self, rows: QuerySet, serializer: type[serializers.Serializer]) -> Response:
        """One page of rows, newest first, with cursors to the next and previous pages."""
        pages = NewestFirst()
        page = pages.paginate_queryset(rows, self.request, view=self)
        return pages.get_paginated_response(serializer(page, many=True).data)


# Racks


class RackListView(APIView):
    @extend_schema(responses={200: RackSerializer(many=True), **errors(401)},
                   summary="The racks of your organizations", tags=["racks"])
    def get(self, request: Request) -> Response:
        racks = visible_racks(request.user).order_by("organization__name", "name", "pk")
        return Response(RackSerializer(racks, many=True, context={"request": request}).data)

    @extend_schema(request=RackCreateSerializer,
                   responses={201: RackSerializer, **errors(400, 401, 403, 404)},
                   summary="Add a rack to an organization (owners and admins)",
                   tags=["racks"])
    def post(self, request: Request) -> Response:
        given = RackCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        # An organization the caller is not in is 404, as everywhere outside their own.
        org, role = organization_for(request.user, given.validated_data["organization"])
        require_managing(role, org, "add racks")
        rack = on_membership(membership.create_rack, org, given.validated_data["name"])
        body = RackSerializer(rack, context={"request": request, "role": role.value}).data
        return Response(body, status=status.HTTP_201_CREATED)


class RackDetailView(RackViewBase):
    change_roles = MANAGING_ROLES
    change_doing = "change or delete its racks"

    @extend_schema(responses={200: RackSerializer, **errors(*READ)},
                   summary="One rack", tags=["racks"])
    def get(self, request: Request, rack_id: int) -> Response:
        return Response(RackSerializer(self.rack, context=self.context()).data)

    @extend_schema(request=RackUpdateSerializer,
                   responses={200: RackSerializer, **errors(*CHANGE)},
                   summary="Change a rack's signing keys or parameters (owners and admins)",
                   tags=["racks"],
                   description="`version`, `count` and `instance_type` go to the rack, which "
                               "reports a rack:update event.")
    def patch(self, request: Request, rack_id: int) -> Response:
        given = RackUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        change, rack = given.validated_data, self.rack
        with transaction.atomic():
            if {"version", "count", "instance_type"} & change.keys():
                on_rack(driver_for(rack).update_rack, rack, version=change.get("version"),
                        count=change.get("count"), instance_type=change.get("instance_type"))
            if "webhook_signing_key" in change:
                membership.set_webhook_signing_key(rack, change["webhook_signing_key"])
        rack.refresh_from_db()
        return Response(RackSerializer(rack, context=self.context()).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)},
                   summary="Delete a rack and its notifications (owners and admins)",
                   tags=["racks"])
    def delete(self, request: Request, rack_id: int) -> Response:
        membership.delete_rack(self.rack)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Apps


def _apps(rack: Rack) -> QuerySet[App]:
    live = Release.objects.filter(app=OuterRef("pk"), active=True).values("id")[:1]
    return rack.apps.annotate(live_release=Subquery(live))


class AppListView(RackViewBase):
    @extend_schema(responses={200: AppSerializer(many=True), **errors(*READ)},
                   summary="The apps on a rack", tags=["apps"])
    def get(self, request: Request, rack_id: int) -> Response:
        return Response(AppSerializer(_apps(self.rack).order_by("name"), many=True).data)

    @extend_schema(request=AppCreateSerializer,
                   responses={201: AppSerializer, **errors(*CHANGE)},
                   summary="Create an app", tags=["apps"])
    def post(self, request: Request, rack_id: int) -> Response:
        given = AppCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        app = on_rack(driver_for(self.rack).create_app, self.rack, given.validated_data["name"])
        return Response(AppSerializer(app).data, status=status.HTTP_201_CREATED)


class AppDetailView(RackViewBase):
    @extend_schema(responses={200: AppSerializer, **errors(*READ)},
                   summary="One app", tags=["apps"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        found = _apps(self.rack).filter(name=app).first()
        if found is None:
            raise Http404(f"No app named {app} on {self.rack.name}.")
        return Response(AppSerializer(found).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)},
                   summary="Delete an app", tags=["apps"])
    def delete(self, request: Request, rack_id: int, app: str) -> Response:
        on_rack(driver_for(self.rack).delete_app, self.app())
        return Response(status=status.HTTP_204_NO_CONTENT)


# Builds


class BuildListView(RackViewBase):
    @extend_schema(responses={200: page_of("BuildPage", BuildSerializer(many=True)),
                              **errors(*READ)},
                   summary="An app's builds with their logs, newest first",
                   operation_id="v1_racks_apps_builds_list", tags=["builds"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        return self.newest_first(Build.objects.filter(app=self.app()).select_related("app"),
                                 BuildSerializer)

    @extend_schema(request=BuildCreateSerializer,
                   responses={201: BuildSerializer, **errors(*CHANGE)},
                   summary="Start a build", tags=["builds"],
                   description="`fail: true` asks the local rack for a build that fails.")
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        given = BuildCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        build = on_rack(driver_for(self.rack).start_build, self.app(),
                        description=given.validated_data["description"],
                        fail=given.validated_data["fail"])
        return Response(BuildSerializer(build).data, status=status.HTTP_201_CREATED)


class BuildDetailView(RackViewBase):
    @extend_schema(responses={200: BuildSerializer, **errors(*READ)},
                   summary="One build with its logs", tags=["builds"])
    def get(self, request: Request, rack_id: int, app: str, build_id: str) -> Response:
        build = Build.objects.select_related("app").filter(app=self.app(), pk=build_id).first()
        if build is None:
            raise Http404(f"No build {build_id} for {app}.")
        return Response(BuildSerializer(build).data)


# Releases


class ReleaseViewBase(RackViewBase):
    def release(self) -> Release:
        found = (Release.objects.select_related("app__rack")
                 .filter(app=self.app(), pk=self.kwargs["release_id"]).first())
        if found is None:
            raise Http404(f"No release {self.kwargs['release_id']} for {self.kwargs['app']}.")
        return found


class ReleaseListView(ReleaseViewBase):
    @extend_schema(responses={200: page_of("ReleasePage", ReleaseSerializer(many=True)),
                              **errors(*READ)},
                   summary="An app's releases, newest first",
                   operation_id="v1_racks_apps_releases_list", tags=["releases"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        return self.newest_first(Release.objects.filter(app=self.app()).select_related("app"),
                                 ReleaseSerializer)

    @extend_schema(request=ReleaseCreateSerializer,
                   responses={201: ReleaseSerializer, **errors(*CHANGE)},
                   summary="Create a release by setting the app's environment",
                   tags=["releases"])
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        given = ReleaseCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        release = on_rack(driver_for(self.rack).set_env, self.app(),
                          given.validated_data["env"])
        return Response(ReleaseSerializer(release).data, status=status.HTTP_201_CREATED)


class ReleaseDetailView(ReleaseViewBase):
    @extend_schema(responses={200: ReleaseSerializer, **errors(*READ)},
                   summary="One release", tags=["releases"])
    def get(self, request: Request, rack_id: int, app: str, release_id: str) -> Response:
        return Response(ReleaseSerializer(self.release()).data)


class ReleasePromoteView(ReleaseViewBase):
    @extend_schema(request=None, responses={200: ReleaseSerializer, **errors(*CHANGE)},
                   summary="Promote a release: it becomes live and a rolling deploy starts",
                   tags=["releases"])
    def post(self, request: Request, rack_id: int, app: str, release_id: str) -> Response:
        release = self.release()
        on_rack(driver_for(self.rack).promote, release)
        release.refresh_from_db()
        return Response(ReleaseSerializer(release).data)


# Scale


class ScaleView(RackViewBase):
    @extend_schema(responses={200: FormationSerializer(many=True), **errors(*READ)},
                   summary="How many copies of each process run", tags=["apps"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        rows = self.app().formation.order_by("process")
        return Response(FormationSerializer(rows, many=True).data)

    @extend_schema(request=ScaleSerializer,
                   responses={200: FormationSerializer(many=True), **errors(*CHANGE)},
                   summary="Scale a process of the live release", tags=["apps"])
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        given = ScaleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        target = self.app()
        on_rack(driver_for(self.rack).scale, target, given.validated_data["process"],
                given.validated_data["count"])
        return Response(FormationSerializer(target.formation.order_by("process"),
                                            many=True).data)


# Resources


class ResourceListView(RackViewBase):
    @extend_schema(responses={200: ResourceSerializer(many=True), **errors(*READ)},
                   summary="The resources on a rack", tags=["resources"])
    def get(self, request: Request, rack_id: int) -> Response:
        return Response(ResourceSerializer(self.rack.resources.order_by("name"),
                                           many=True).data)

    @extend_schema(request=ResourceCreateSerializer,
                   responses={201: ResourceSerializer, **errors(*CHANGE)},
                   summary="Create a resource", tags=["resources"])
    def post(self, request: Request, rack_id: int) -> Response:
        given = ResourceCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        resource = on_rack(driver_for(self.rack).create_resource, self.rack,
                           given.validated_data["name"], given.validated_data["type"])
        return Response(ResourceSerializer(resource).data, status=status.HTTP_201_CREATED)


class ResourceDetailView(RackViewBase):
    def resource(self) -> Resource:
        found = Resource.objects.select_related("rack").filter(
            rack=self.rack, name=self.kwargs["name"]).first()
        if found is None:
            raise Http404(f"No resource named {self.kwargs['name']} on {self.rack.name}.")
        return found

    @extend_schema(responses={200: ResourceSerializer, **errors(*READ)},
                   summary="One resource", tags=["resources"])
    def get(self, request: Request, rack_id: int, name: str) -> Response:
        return Response(ResourceSerializer(self.resource()).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)},
                   summary="Delete a resource", tags=["resources"])
    def delete(self, request: Request, rack_id: int, name: str) -> Response:
        on_rack(driver_for(self.rack).delete_resource, self.resource())
        return Response(status=status.HTTP_204_NO_CONTENT)
