"""The invitee's side of invitations: list yours, accept, decline."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.rest.common import errors, on_membership
from console.rest.pages import NewestFirst, paged, paged_schema
from racks import invitations
from racks.models import Invitation
from racks.serializers import JoinedSerializer, ReceivedInvitationSerializer


def _yours(request: Request, invitation_id: int) -> Invitation:
    """An invitation addressed to the caller, in any state; anyone else's is a 404."""
    found = invitations.addressed_to(request.user, invitation_id)
    if found is None:
        raise Http404("You have no invitation with that id.")
    return found


class ReceivedInvitationListView(APIView):
    @extend_schema(**paged_schema("ReceivedInvitationPage", ReceivedInvitationSerializer,
                                  errors(401, 404)),
                   operation_id="v1_invitations_list",
                   summary="Your pending invitations", tags=["invitations"])
    def get(self, request: Request) -> Response:
        rows = invitations.pending_for(request.user).select_related("organization",
                                                                    "invited_by")
        return paged(request, self, rows, ReceivedInvitationSerializer, NewestFirst)


class AcceptInvitationView(APIView):
    @extend_schema(request=None, responses={200: JoinedSerializer,
                                            **errors(400, 401, 404, 410)},
                   summary="Accept an invitation: you join the organization",
                   tags=["invitations"],
                   description="410 when it expired, was revoked or was already answered.")
    def post(self, request: Request, invitation_id: int) -> Response:
        invitation = _yours(request, invitation_id)
        joined = on_membership(invitations.accept, invitation, request.user)
        return Response({"organization": {"slug": invitation.organization.slug,
                                          "name": invitation.organization.name},
                         "role": joined.role})


class DeclineInvitationView(APIView):
    @extend_schema(request=None, responses={204: None, **errors(401, 404, 410)},
                   summary="Decline an invitation", tags=["invitations"])
    def post(self, request: Request, invitation_id: int) -> Response:
        on_membership(invitations.decline, _yours(request, invitation_id), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
