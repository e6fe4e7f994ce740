"""Changes to an organization: who belongs to it, and with what role (its racks come and
go through racks.lifecycle).

Views check that the caller is a member (404 otherwise) and parse input; the rules about
roles live here. `MembershipForbidden` means the caller's role may not do it (403);
`MembershipError` means the change makes no sense as asked (400).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from notifications.members import member_left
from racks.models import MANAGING_ROLES, Membership, Organization, Role
from racks.text import without_bidi_controls


class MembershipError(Exception):
    """The change cannot be made as asked; the text says why, for the person asking."""


class MembershipForbidden(Exception):
    """The caller's role does not allow this change."""


def create_organization(user: AbstractBaseUser, name: str) -> Organization:
    """A new organization whose only member, its owner, is the user who created it."""
    name = without_bidi_controls(name).strip()
    if not name:
        raise MembershipError("An organization needs a name.")
    for _ in range(5):
        try:
            with transaction.atomic():
                org = Organization.objects.create(name=name,
                                                  slug=Organization.unique_slug(name))
                Membership.objects.create(organization=org, user=user, role=Role.OWNER)
            return org
        except IntegrityError:
            continue  # another organization took the same slug a moment ago
    raise MembershipError("Could not find a free address for that name; try another name.")


def check_may_grant(acting_role: Role, role: str, doing: str) -> None:
    """Owners and admins manage members and invitations; only owners touch an owner."""
    if acting_role not in MANAGING_ROLES:
        raise MembershipForbidden("Only owners and admins manage members.")
    if role == Role.OWNER and acting_role != Role.OWNER:
        raise MembershipForbidden(f"Only an owner can {doing} an owner.")


def _lock_owners(organization: Organization) -> list[int]:
    """Lock the organization's owner rows so two demotions cannot both pass the check."""
    return list(Membership.objects.select_for_update()
                .filter(organization=organization, role=Role.OWNER)
                .order_by("pk").values_list("user_id", flat=True))


def change_role(membership: Membership, role: Role, *, acting_role: Role) -> Membership:
    check_may_grant(acting_role, membership.role, "change the role of")
    check_may_grant(acting_role, role, "make someone")
    with transaction.atomic():
        owners = _lock_owners(membership.organization)
        membership.refresh_from_db()
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and owners == [membership.user_id]:
            raise MembershipError(f"{membership.user.get_username()} is the last owner of "
                                  f"{membership.organization.name}: make someone else an "
                                  "owner first.")
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def remove_member(membership: Membership, *, acting_role: Role) -> None:
    """An owner or admin takes the user out of the organization."""
    check_may_grant(acting_role, membership.role, "remove")
    _leave(membership)


def leave(membership: Membership) -> None:
    """The user leaves the organization of their own accord (any role)."""
    _leave(membership)


def _leave(membership: Membership) -> None:
    """The membership ends: the user's feed of the organization's racks and their open
    sockets go with it. The last owner stays."""
    organization, user_id = membership.organization, membership.user_id
    with transaction.atomic():
        owners = _lock_owners(organization)
        if owners == [user_id]:
            raise MembershipError(f"{membership.user.get_username()} is the last owner of "
                                  f"{organization.name}: make someone else an owner first.")
        membership.delete()
        member_left(user_id, organization.pk)
