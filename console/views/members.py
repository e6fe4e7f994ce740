"""The organization's people on the dashboard: members, roles, leaving, invitations sent
and received. The rules are racks.membership's and racks.invitations', as in the API."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console.forms import InviteForm, RoleForm
from console.views.access import require
from console.views.pages import organization_page
from racks import invitations, membership
from racks.models import Invitation, Membership, Role
from racks.permissions import organization_for

REFUSALS = (membership.MembershipError, membership.MembershipForbidden,
            invitations.InvitationGone, invitations.InvitationThrottled)


def _try(request: HttpRequest, change: Callable[[], Any], done: str) -> bool:
    """Make the change and say so, or say why it was refused."""
    try:
        change()
    except REFUSALS as refused:
        messages.error(request, str(refused))
        return False
    messages.success(request, done)
    return True


def _membership(org_slug: str, username: str) -> Membership:
    found = (Membership.objects.select_related("user", "organization")
             .filter(organization__slug=org_slug, user__username=username).first())
    if found is None:
        raise Http404("No such member.")
    return found


@login_required
@require_POST
def change_role(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    org, role = organization_for(request.user, slug)
    require(role, org, managing=True, doing="manage members")
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
    else:
        new_role = Role(form.cleaned_data["role"])
        _try(request, lambda: membership.change_role(_membership(slug, username), new_role,
                                                     acting_role=role),
             f"{username} is now {new_role.value}.")
    return redirect("organization", slug=slug)


@login_required
@require_POST
def remove_member(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    org, role = organization_for(request.user, slug)
    if username == request.user.get_username():
        if _try(request, lambda: membership.leave(_membership(slug, username)),
                f"You left {org.name}."):
            return redirect("organizations")
        return redirect("organization", slug=slug)
    require(role, org, managing=True, doing="manage members")
    _try(request, lambda: membership.remove_member(_membership(slug, username),
                                                   acting_role=role),
         f"Removed {username} from {org.name}.")
    return redirect("organization", slug=slug)


@login_required
@require_POST
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    org, role = organization_for(request.user, slug)
    require(role, org, managing=True, doing="invite people")
    form = InviteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invitations.invite(org, inviter=request.user, acting_role=role,
                               role=Role(data["role"]), username=data["username"],
                               email=data["email"])
        except REFUSALS as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"Invited {data['username'] or data['email']} as "
                                      f"{data['role']}. They join when they accept.")
            return redirect("organization", slug=slug)
    # Shown again as typed, the error beside its field.
    return organization_page(request, org, role, refused=form)


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    org, role = organization_for(request.user, slug)
    require(role, org, managing=True, doing="revoke invitations")
    found = invitations.pending_of(org).filter(pk=invitation_id).first()
    if found is None:
        raise Http404("No pending invitation with that id.")
    _try(request, lambda: invitations.revoke(found, acting_role=role),
         f"Revoked the invitation of {found.invitee}.")
    return redirect("organization", slug=slug)


@login_required
@require_http_methods(["GET"])
def received(request: HttpRequest) -> HttpResponse:
    rows = (invitations.pending_for(request.user)
            .select_related("organization", "invited_by").order_by("created_at"))
    return render(request, "console/invitations.html", {"invitations": rows})


def _yours(request: HttpRequest, invitation_id: int) -> Invitation:
    found = invitations.addressed_to(request.user, invitation_id)
    if found is None:
        raise Http404("You have no invitation with that id.")
    return found


@login_required
@require_POST
def answer(request: HttpRequest, invitation_id: int, accepting: bool) -> HttpResponse:
    invitation = _yours(request, invitation_id)
    org = invitation.organization
    if accepting:
        if _try(request, lambda: invitations.accept(invitation, request.user),
                f"Welcome to {org.name}."):
            return redirect("organization", slug=org.slug)
    else:
        _try(request, lambda: invitations.decline(invitation, request.user),
             f"Declined the invitation to {org.name}.")
    return redirect("invitations")


@require_http_methods(["GET", "POST"])
def claim(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link of an invitation by email: whoever holds it, logged in, answers."""
    invitation = invitations.by_link(token)
    if invitation is None:
        return render(request, "console/invitation_gone.html", status=410)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{request.path}")
        accepting = request.POST.get("answer") == "accept"
        org = invitation.organization
        if _try(request, lambda: invitations.claim(token, request.user, accepting=accepting),
                f"Welcome to {org.name}." if accepting
                else f"Declined the invitation to {org.name}."):
            return redirect("organization", slug=org.slug) if accepting else redirect("feed")
        return redirect(request.path)
    return render(request, "console/invitation_claim.html",
                  {"invitation": invitation, "token": token})
