"""Invitations: the only way into an organization. Nobody becomes a member without
accepting.

Owners and admins invite by username or by email, with a role (the rules about who may
grant which role are racks.membership's). The answer never says whether such an account
exists: an invitation is written either way, and its email is sent by a Celery task in
both cases, so not even the answer's timing tells. An invitation by username is listed
to that user and accepted by them; one by email is claimed only through the emailed
link, never by matching `User.email` (addresses are neither unique nor verified here).

Errors: `MembershipForbidden` (403), `MembershipError` (400), `InvitationGone` (410: it
expired, was revoked or was already answered), `InvitationThrottled` (429).
"""

import hashlib
import secrets
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from console import rate_limit
from notifications.members import member_joined
from racks.membership import MembershipError, check_may_grant
from racks.models import Invitation, InvitationStatus, Membership, Organization, Role

SEND_TASK = "racks.tasks.send_invitation"


class InvitationGone(Exception):
    """The invitation expired, was revoked, or was already accepted or declined."""


class InvitationThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many invitations; try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle(organization: Organization, inviter: AbstractBaseUser) -> None:
    for scope, subject in (("invite_user", inviter.pk), ("invite_organization",
                                                         organization.pk)):
        wait = rate_limit.seconds_until_allowed(scope, str(subject))
        if wait:
            raise InvitationThrottled(wait)


def invite(organization: Organization, *, inviter: AbstractBaseUser, acting_role: Role,
           role: Role, username: str = "", email: str = "") -> Invitation:
    """Invite a username or an email address; the same result whether or not it has an
    account."""
    check_may_grant(acting_role, role, "invite")
    username, email = username.strip(), email.strip()
    if bool(username) == bool(email):
        raise MembershipError("Invite either a username or an email address.")
    _throttle(organization, inviter)
    user = None
    if username:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is not None and Membership.objects.filter(organization=organization,
                                                          user=user).exists():
            # Their name is on the members list already: this tells the inviter nothing new.
            raise MembershipError(f"{username} is already a member of {organization.name}.")
    pending = live_invitations().filter(organization=organization)
    if (pending.filter(username=username) if username
            else pending.filter(email__iexact=email)).exists():
        raise MembershipError(f"{username or email} already has a pending invitation to "
                              f"{organization.name}.")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=organization, role=role, username=username, email=email, user=user,
            invited_by=inviter,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS))
        transaction.on_commit(lambda: current_app.send_task(SEND_TASK, [invitation.pk]))
    return invitation


def send_invitation(invitation_id: int) -> None:
    """Email the invitee (the Celery task's work): a link to their invitations, or for an
    invitation by email a single-use link that claims it. No account, no email."""
    invitation = (Invitation.objects.select_related("organization", "invited_by", "user")
                  .filter(pk=invitation_id, status=InvitationStatus.PENDING).first())
    if invitation is None:
        return
    if invitation.email:
        token = secrets.token_urlsafe(32)
        Invitation.objects.filter(pk=invitation.pk).update(token_hash=_hash(token))
        to = invitation.email
        link = settings.CONSOLE_URL + reverse("claim-invitation", args=[token])
    elif invitation.user is not None and invitation.user.email:
        to = invitation.user.email
        link = settings.CONSOLE_URL + reverse("invitations")
    else:
        return
    context = {"invitation": invitation, "link": link,
               "inviter": invitation.invited_by.get_username() if invitation.invited_by
               else "Someone"}
    send_mail(f"[Rack Console] Join {invitation.organization.name} on Rack Console",
              render_to_string("email/invitation.txt", context), settings.DEFAULT_FROM_EMAIL,
              [to], html_message=render_to_string("email/invitation.html", context))


def live_invitations() -> QuerySet[Invitation]:
    """Pending and not expired."""
    return Invitation.objects.filter(status=InvitationStatus.PENDING,
                                     expires_at__gt=timezone.now())


def pending_for(user: AbstractBaseUser) -> QuerySet[Invitation]:
    """The user's invitations still waiting for an answer."""
    return live_invitations().filter(user=user)


def pending_of(organization: Organization) -> QuerySet[Invitation]:
    """The organization's invitations still waiting for an answer."""
    return live_invitations().filter(organization=organization)


def addressed_to(user: AbstractBaseUser, invitation_id: int) -> Invitation | None:
    """An invitation to the user, in any state (answering it says whether it still can
    be); nobody else's."""
    return (Invitation.objects.select_related("organization")
            .filter(pk=invitation_id, user=user).first())


def by_link(token: str) -> Invitation | None:
    """The pending invitation an emailed link claims, if the link is still good."""
    if not token:
        return None
    return (live_invitations().select_related("organization", "invited_by")
            .filter(token_hash=_hash(token), user__isnull=True).first())


def _answerable(invitation: Invitation, user: AbstractBaseUser) -> Invitation:
    """Lock the invitation; it must be the user's and still pending."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.user_id != user.pk:
        raise InvitationGone("This invitation is not yours.")
    if locked.status != InvitationStatus.PENDING or locked.expires_at <= timezone.now():
        raise InvitationGone("This invitation has expired, was revoked or was already "
                             "answered.")
    return locked


def accept(invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """The user joins the organization with the invitation's role. Their feed starts with
    the organization's recent past, and their open pages reconnect to hear it live."""
    with transaction.atomic():
        locked = _answerable(invitation, user)
        try:
            with transaction.atomic():
                joined = Membership.objects.create(organization_id=locked.organization_id,
                                                   user=user, role=locked.role)
        except IntegrityError:
            raise MembershipError("You are already a member of this organization.") from None
        locked.status, locked.responded_at = InvitationStatus.ACCEPTED, timezone.now()
        locked.save(update_fields=["status", "responded_at"])
        member_joined(user.pk, locked.organization_id)
    return joined


def claim(token: str, user: AbstractBaseUser, *, accepting: bool) -> Membership | None:
    """Answer an invitation by email through its link, as the logged-in user; the link is
    spent either way."""
    with transaction.atomic():
        invitation = by_link(token)
        if invitation is None:
            raise InvitationGone("This invitation link has expired or was already used.")
        taken = (Invitation.objects.filter(pk=invitation.pk, user__isnull=True)
                 .update(user=user, token_hash=""))
        if not taken:
            raise InvitationGone("This invitation link was already used.")
        invitation.user = user
        if accepting:
            return accept(invitation, user)
        decline(invitation, user)
        return None


def decline(invitation: Invitation, user: AbstractBaseUser) -> None:
    with transaction.atomic():
        locked = _answerable(invitation, user)
        locked.status, locked.responded_at = InvitationStatus.DECLINED, timezone.now()
        locked.save(update_fields=["status", "responded_at"])


def revoke(invitation: Invitation, *, acting_role: Role) -> None:
    """An owner or admin takes a pending invitation back (admins not an owner's)."""
    check_may_grant(acting_role, invitation.role, "revoke an invitation of")
    updated = (Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING)
               .update(status=InvitationStatus.REVOKED, responded_at=timezone.now(),
                       token_hash=""))
    if not updated:
        raise InvitationGone("This invitation was already answered or revoked.")
