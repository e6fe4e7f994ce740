"""Organizations, their members and the invitations they send. Views parse, check, call
racks.membership or racks.invitations, answer."""

from django.db.models import OuterRef, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.rest.common import CHANGE, READ, errors, on_membership
from console.rest.pages import OldestFirst, paged, paged_schema
from racks import invitations, membership
from racks.models import MANAGING_ROLES, Membership, Organization, Role
from racks.permissions import RoleAllowsChange, organization_for, require_managing
from racks.serializers import (
    DetailSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
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
        if request.method == "DELETE" and self.kwargs.get("username") == \
                request.user.get_username():
            return  # leaving: any member may
        require_managing(role, org, "manage members")

    def membership_of(self, org: Organization, username: str) -> Membership:
        found = (Membership.objects.select_related("user", "organization")
                 .filter(organization=org, user__username=username).first())
        if found is None:
            raise Http404(f"{username} is not a member of {org.name}.")
        return found


class MemberListView(MemberViewBase):
    @extend_schema(**paged_schema("MemberPage", MemberSerializer, errors(*READ)),
                   operation_id="v1_organizations_members_list",
                   summary="Members of an organization, oldest first", tags=["organizations"],
                   description="Email addresses are shown to owners and admins only.")
    def get(self, request: Request, slug: str) -> Response:
        org, role = organization_for(request.user, slug)
        rows = Membership.objects.filter(organization=org).select_related("user")
        return paged(request, self, rows, MemberSerializer, OldestFirst,
                     context={"show_email": role in MANAGING_ROLES})

    @extend_schema(request=None, responses={405: DetailSerializer, **errors(401, 404)},
                   summary="Not allowed: invite people instead", tags=["organizations"],
                   description="Nobody becomes a member without accepting: use "
                               "`POST /api/v1/organizations/<slug>/invitations/`.")
    def post(self, request: Request, slug: str) -> Response:
        raise MethodNotAllowed("POST", detail=(
            "Members are not added directly: invite them with POST "
            f"/api/v1/organizations/{slug}/invitations/ and they join when they accept."))


class MemberDetailView(MemberViewBase):
    @extend_schema(responses={200: MemberSerializer, **errors(*READ)},
                   summary="One member of an organization", tags=["organizations"])
    def get(self, request: Request, slug: str, username: str) -> Response:
        org, role = organization_for(request.user, slug)
        return Response(MemberSerializer(self.membership_of(org, username),
                                         context={"show_email": role in MANAGING_ROLES}).data)

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
        return Response(MemberSerializer(changed, context={"show_email": True}).data)

    @extend_schema(responses={204: None, **errors(*CHANGE)},
                   summary="Remove a member (owners and admins), or leave", tags=["organizations"],
                   description="Your own username leaves the organization (not its last "
                               "owner). Their feed of the organization's racks goes too, and "
                               "their open live feeds are closed.")
    def delete(self, request: Request, slug: str, username: str) -> Response:
        org, role = organization_for(request.user, slug)
        leaving = self.membership_of(org, username)
        if leaving.user_id == request.user.pk:
            on_membership(membership.leave, leaving)
        else:
            on_membership(membership.remove_member, leaving, acting_role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationInvitationsView(MemberViewBase):
    def check_change(self, request: Request) -> None:
        org, role = organization_for(request.user, self.kwargs["slug"])
        require_managing(role, org, "invite people")

    @extend_schema(**paged_schema("InvitationPage", InvitationSerializer,
                                  errors(401, 403, 404)),
                   operation_id="v1_organizations_invitations_list",
                   summary="Pending invitations of an organization (owners and admins)",
                   description="Oldest first.",
                   tags=["organizations"])
    def get(self, request: Request, slug: str) -> Response:
        org, role = organization_for(request.user, slug)
        require_managing(role, org, "see invitations")
        return paged(request, self, invitations.pending_of(org), InvitationSerializer,
                     OldestFirst)

    @extend_schema(request=InvitationCreateSerializer,
                   responses={201: InvitationSerializer, **errors(400, 401, 403, 404, 429)},
                   summary="Invite a username or an email address (owners and admins)",
                   tags=["organizations"],
                   description="The answer is the same whether or not such an account "
                               "exists. The invitee gets an email and joins only by "
                               "accepting; an invitation expires after 7 days. Only an owner "
                               "can invite an owner.")
    def post(self, request: Request, slug: str) -> Response:
        org, role = organization_for(request.user, slug)
        given = InvitationCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        sent = on_membership(invitations.invite, org, inviter=request.user, acting_role=role,
                             role=Role(given.validated_data["role"]),
                             username=given.validated_data.get("username", ""),
                             email=given.validated_data.get("email", ""))
        return Response(InvitationSerializer(sent).data, status=status.HTTP_201_CREATED)


class OrganizationInvitationView(MemberViewBase):
    def check_change(self, request: Request) -> None:
        org, role = organization_for(request.user, self.kwargs["slug"])
        require_managing(role, org, "revoke invitations")

    @extend_schema(responses={204: None, **errors(401, 403, 404)},
                   summary="Revoke a pending invitation (owners and admins)",
                   tags=["organizations"])
    def delete(self, request: Request, slug: str, invitation_id: int) -> Response:
        org, role = organization_for(request.user, slug)
        found = invitations.pending_of(org).filter(pk=invitation_id).first()
        if found is None:
            raise Http404("No pending invitation with that id.")
        on_membership(invitations.revoke, found, acting_role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)
