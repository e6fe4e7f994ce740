"""Organizations and their members. Views parse, check, call racks.membership, answer."""

from django.db.models import OuterRef, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from racks import membership
from racks.api.common import CHANGE, READ, errors, on_membership
from racks.models import Membership, Organization, Role
from racks.permissions import RoleAllowsChange, organization_for, require_managing
from racks.serializers import (
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
)


class OrganizationListView(APIView):
    @extend_schema(responses={200: OrganizationSerializer(many=True), **errors(401)},
                   summary="Your organizations", tags=["organizations"])
    def get(self, request: Request) -> Response:
        role = Membership.objects.filter(organization=OuterRef("pk"), user=request.user)
        orgs = (Organization.objects.filter(memberships__user=request.user)
                .annotate(caller_role=Subquery(role.values("role")[:1])).order_by("name", "pk"))
        return Response(OrganizationSerializer(orgs, many=True).data)

    @extend_schema(request=OrganizationCreateSerializer,
                   responses={201: OrganizationSerializer, **errors(400, 401)},
                   summary="Create an organization; you become its owner",
                   tags=["organizations"])
    def post(self, request: Request) -> Response:
        given = OrganizationCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        org = on_membership(membership.create_organization, request.user,
                            given.validated_data["name"])
        body = OrganizationSerializer(org, context={"role": Role.OWNER.value}).data
        return Response(body, status=status.HTTP_201_CREATED)


class OrganizationDetailView(APIView):
    @extend_schema(responses={200: OrganizationSerializer, **errors(*READ)},
                   summary="One of your organizations", tags=["organizations"])
    def get(self, request: Request, slug: str) -> Response:
        org, role = organization_for(request.user, slug)
        return Response(OrganizationSerializer(org, context={"role": role.value}).data)


class MemberViewBase(APIView):
    permission_classes = [*APIView.permission_classes, RoleAllowsChange]

    def check_change(self, request: Request) -> None:
        org, role = organization_for(request.user, self.kwargs["slug"])
        require_managing(role, org, "manage members")

    def membership_of(self, org: Organization, username: str) -> Membership:
        found = (Membership.objects.select_related("user", "organization")
                 .filter(organization=org, user__username=username).first())
        if found is None:
            raise Http404(f"{username} is not a member of {org.name}.")
        return found


class MemberListView(MemberViewBase):
    @extend_schema(responses={200: MemberSerializer(many=True), **errors(*READ)},
                   summary="Members of an organization", tags=["organizations"])
    def get(self, request: Request, slug: str) -> Response:
        org, _ = organization_for(request.user, slug)
        rows = (Membership.objects.filter(organization=org).select_related("user")
                .order_by("created_at", "pk"))
        return Response(MemberSerializer(rows, many=True).data)

    @extend_schema(request=MemberCreateSerializer,
                   responses={201: MemberSerializer, **errors(*CHANGE)},
                   summary="Add a user to the organization (owners and admins)",
                   tags=["organizations"],
                   description="Only an owner can add another owner.")
    def post(self, request: Request, slug: str) -> Response:
        org, role = organization_for(request.user, slug)
        given = MemberCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        added = on_membership(membership.add_member, org, given.validated_data["username"],
                              Role(given.validated_data["role"]), acting_role=role)
        return Response(MemberSerializer(added).data, status=status.HTTP_201_CREATED)


class MemberDetailView(MemberViewBase):
    @extend_schema(responses={200: MemberSerializer, **errors(*READ)},
                   summary="One member of an organization", tags=["organizations"])
    def get(self, request: Request, slug: str, username: str) -> Response:
        org, _ = organization_for(request.user, slug)
        return Response(MemberSerializer(self.membership_of(org, username)).data)

    @extend_schema(request=MemberUpdateSerializer,
                   responses={200: MemberSerializer, **errors(*CHANGE)},
                   summary="Change a member's role (owners and admins)",
                   tags=["organizations"],
                   description="Only an owner can make or unmake an owner; the last owner "
                               "stays an owner.")
    def patch(self, request: Request, slug: str, username: str) -> Response:
        org, role = organization_for(request.user, slug)
        given = MemberUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changed = on_membership(membership.change_role, self.membership_of(org, username),
                                Role(given.validated_data["role"]), acting_role=role)
        return Response(MemberSerializer(changed).data)

    @extend_schema(responses={204: None, **errors(*CHANGE)},
                   summary="Remove a member (owners and admins)", tags=["organizations"],
                   description="Their feed of the organization's racks goes too, and their "
                               "open live feeds are closed.")
    def delete(self, request: Request, slug: str, username: str) -> Response:
        org, role = organization_for(request.user, slug)
        on_membership(membership.remove_member, self.membership_of(org, username),
                      acting_role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)
