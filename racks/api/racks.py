"""Racks and what runs on them. Every action goes through the rack's driver, so the
events it causes reach the feed through the same pipeline as a real rack's."""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.rest.common import CHANGE, READ, Refused, errors
from console.rest.pages import ByName, NewestFirst, OldestFirst, Pages, paged, paged_schema
from racks import lifecycle
from racks.caps import with_over_caps
from racks.connect import ConnectThrottled, connect_rack, disconnect_rack
from racks.driver import UPLOAD_CHUNK_BYTES, RackError, Source
from racks.drivers import driver_for
from racks.models import (
    ACTING_ROLES,
    MANAGING_ROLES,
    App,
    Build,
    Rack,
    RackDriverKind,
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
    PromoteSerializer,
    RackConnectedSerializer,
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

    def page(self, rows: QuerySet, serializer: type[serializers.Serializer],
             pages: type[Pages]) -> Response:
        """One page of rows in `pages`' order, with cursors to the next and previous."""
        return paged(self.request, self, rows, serializer, pages, self.context())


# Racks


class RackListView(APIView):
    @extend_schema(**paged_schema("RackPage", RackSerializer, errors(401, 404)),
                   summary="The racks of your organizations, oldest first",
                   operation_id="v1_racks_list", tags=["racks"])
    def get(self, request: Request) -> Response:
        racks = with_over_caps(visible_racks(request.user))
        return paged(request, self, racks, RackSerializer, OldestFirst)

    @extend_schema(request=RackCreateSerializer,
                   responses={201: RackConnectedSerializer,
                              **errors(400, 401, 403, 404, 429)},
                   summary="Add a local rack, or connect a Convox rack (owners and admins)",
                   tags=["racks"],
                   description='With `"driver": "convox"`, `host` and `password`, the console '
                   "checks the password, reads the rack and registers the rack's ingest URL as "
                   "a webhook on it; a 400 says what failed (credentials, unreachable, TLS, "
                   "refused address, a rack too old). Connect attempts are throttled per "
                   "person and per organization (429).")
    def post(self, request: Request) -> Response:
        given = RackCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        # An organization the caller is not in is 404, as everywhere outside their own.
        org, role = organization_for(request.user, data["organization"])
        require_managing(role, org, "add racks")
        if data["driver"] == RackDriverKind.CONVOX:
            try:
                connected = connect_rack(org, data["name"], host=data["host"],
                                         password=data["password"],
                                         tls_fingerprint=data.get("tls_fingerprint", ""),
                                         user=request.user)
            except ConnectThrottled as refused:
                raise Throttled(wait=refused.retry_after, detail=str(refused)) from None
            except RackError as refused:
                raise Refused(str(refused)) from None
            rack = connected.rack
            rack.warnings, rack.signing_key_command = (connected.warnings,
                                                       connected.signing_key_command)
        else:
            try:
                rack = lifecycle.create_rack(org, data["name"])
            except lifecycle.RackRefused as refused:
                raise Refused(str(refused)) from None
            rack.warnings, rack.signing_key_command = [], ""
        body = RackConnectedSerializer(rack, context={"request": request,
                                                      "role": role.value}).data
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
                               "reports a rack:update event; when they are all what the "
                               "rack has, nothing is asked and the answer is a 400.")
    def patch(self, request: Request, rack_id: int) -> Response:
        given = RackUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        change, rack = given.validated_data, self.rack
        with transaction.atomic():
            if {"version", "count", "instance_type"} & change.keys():
                on_rack(driver_for(rack).update_rack, rack, version=change.get("version"),
                        count=change.get("count"), instance_type=change.get("instance_type"))
            if "webhook_signing_key" in change:
                lifecycle.set_webhook_signing_key(rack, change["webhook_signing_key"])
        rack.refresh_from_db()
        return Response(RackSerializer(rack, context=self.context()).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)},
                   summary="Delete or disconnect a rack, with its notifications (owners and "
                           "admins)", tags=["racks"],
                   description="A connected rack's webhook is removed from the rack when the "
                               "rack answers.")
    def delete(self, request: Request, rack_id: int) -> Response:
        disconnect_rack(self.rack)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Apps


def _apps(rack: Rack) -> QuerySet[App]:
    live = Release.objects.filter(app=OuterRef("pk"), active=True).values("id")[:1]
    return rack.apps.annotate(live_release=Subquery(live))


class AppListView(RackViewBase):
    @extend_schema(**paged_schema("AppPage", AppSerializer, errors(*READ)),
                   summary="The apps on a rack, by name", operation_id="v1_racks_apps_list",
                   tags=["apps"])
    def get(self, request: Request, rack_id: int) -> Response:
        return self.page(_apps(self.rack), AppSerializer, ByName)

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
    @extend_schema(**paged_schema("BuildPage", BuildSerializer, errors(*READ)),
                   summary="An app's builds with their logs, newest first",
                   operation_id="v1_racks_apps_builds_list", tags=["builds"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        return self.page(Build.objects.filter(app=self.app()).select_related("app"),
                         BuildSerializer, NewestFirst)

    @extend_schema(request=BuildCreateSerializer,
                   responses={201: BuildSerializer, **errors(*CHANGE)},
                   summary="Start a build", tags=["builds"],
                   description="`fail: true` asks the local rack for a build that fails.")
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        given = BuildCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        if self.rack.is_connected:
            raise Refused("A Convox rack builds from the app's source: POST the .tgz to "
                          f"/api/v1/uploads/racks/{self.rack.pk}/apps/{self.app().name}"
                          "/builds/.")
        build = on_rack(driver_for(self.rack).start_build, self.app(),
                        description=given.validated_data["description"],
                        fail=given.validated_data["fail"])
        return Response(BuildSerializer(build).data, status=status.HTTP_201_CREATED)


class SourceBuildView(RackViewBase):
    """A build from an uploaded source tarball: the body is the .tgz itself, up to
    SOURCE_UPLOAD_MAX_BYTES (a cap of its own, larger than other bodies': the path is
    under /api/v1/uploads/, console.body_limit), forwarded to the rack's objects in
    chunks from the temporary file the server spooled it to."""

    @extend_schema(request={"application/octet-stream": OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("description", str, required=False)],
                   responses={201: BuildSerializer, **errors(*CHANGE)},
                   summary="Start a build from a source tarball", tags=["builds"])
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        target, body = self.app(), request.stream
        declared = request.META.get("CONTENT_LENGTH") or ""
        chunks = iter(partial(body.read, UPLOAD_CHUNK_BYTES), b"") if body is not None else ()
        source = Source.of(chunks, int(declared) if declared.isdigit() else None)
        description = request.query_params.get("description", "")
        build = on_rack(driver_for(self.rack).start_build, target, description=description,
                        source=source)
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
    @extend_schema(**paged_schema("ReleasePage", ReleaseSerializer, errors(*READ)),
                   summary="An app's releases, newest first",
                   operation_id="v1_racks_apps_releases_list", tags=["releases"])
    def get(self, request: Request, rack_id: int, app: str) -> Response:
        return self.page(Release.objects.filter(app=self.app()).select_related("app"),
                         ReleaseSerializer, NewestFirst)

    @extend_schema(request=ReleaseCreateSerializer,
                   responses={201: ReleaseSerializer, **errors(*CHANGE)},
                   summary="Create a release by setting the app's environment",
                   tags=["releases"])
    def post(self, request: Request, rack_id: int, app: str) -> Response:
        given = ReleaseCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        release = on_rack(driver_for(self.rack).set_env, self.app(),
                          given.validated_data["env"],
                          based_on=given.validated_data["based_on"])
        return Response(ReleaseSerializer(release, context=self.context()).data,
                        status=status.HTTP_201_CREATED)


class ReleaseDetailView(ReleaseViewBase):
    @extend_schema(responses={200: ReleaseSerializer, **errors(*READ)},
                   summary="One release", tags=["releases"])
    def get(self, request: Request, rack_id: int, app: str, release_id: str) -> Response:
        return Response(ReleaseSerializer(self.release(), context=self.context()).data)


class ReleasePromoteView(ReleaseViewBase):
    @extend_schema(request=PromoteSerializer,
                   responses={200: ReleaseSerializer, **errors(*CHANGE)},
                   summary="Promote a release: it becomes live and a rolling deploy starts",
                   tags=["releases"])
    def post(self, request: Request, rack_id: int, app: str, release_id: str) -> Response:
        given = PromoteSerializer(data=request.data or {})
        given.is_valid(raise_exception=True)
        release = self.release()
        on_rack(driver_for(self.rack).promote, release, force=given.validated_data["force"])
        release.refresh_from_db()
        return Response(ReleaseSerializer(release, context=self.context()).data)


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
                given.validated_data["count"], cpu=given.validated_data.get("cpu"),
                memory=given.validated_data.get("memory"))
        return Response(FormationSerializer(target.formation.order_by("process"),
                                            many=True).data)


# Resources


class ResourceListView(RackViewBase):
    @extend_schema(**paged_schema("ResourcePage", ResourceSerializer, errors(*READ)),
                   summary="The resources on a rack, by name",
                   operation_id="v1_racks_resources_list", tags=["resources"])
    def get(self, request: Request, rack_id: int) -> Response:
        return self.page(self.rack.resources.all(), ResourceSerializer, ByName)

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
