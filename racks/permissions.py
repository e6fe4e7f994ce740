"""Who may see and do what: every API view asks here.

Anything outside the caller's organizations does not exist for them (404). Inside, every
member reads; members act on racks (apps, builds, releases, scale, resources); owners
and admins also manage members and rack settings. A forbidden action on something the
caller can see is a 403 whose message says who may do it. Both are Django's own
exceptions (Http404, PermissionDenied), which pages and DRF alike answer with the message.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from racks.models import MANAGING_ROLES, Membership, Organization, Rack, Role


def visible_racks(user: AbstractBaseUser) -> QuerySet[Rack]:
    """The racks of the user's organizations, each annotated with the user's role there."""
    role = Membership.objects.filter(organization=OuterRef("organization_id"), user=user)
    return (Rack.objects.select_related("organization")
            .annotate(caller_role=Subquery(role.values("role")[:1]))
            .filter(caller_role__isnull=False))


def organization_for(user: AbstractBaseUser, slug: str) -> tuple[Organization, Role]:
    """The organization and the caller's role in it, or 404 if they are not a member."""
    row = (Membership.objects.select_related("organization")
           .filter(user=user, organization__slug=slug).first())
    if row is None:
        raise Http404("No such organization.")
    return row.organization, Role(row.role)


def rack_for(user: AbstractBaseUser, rack_id: int) -> tuple[Rack, Role]:
    """The rack and the caller's role in its organization, or 404 if it is not theirs."""
    rack = visible_racks(user).filter(pk=rack_id).first()
    if rack is None:
        raise Http404("No such rack.")
    return rack, Role(rack.caller_role)


def _who(roles: Iterable[Role]) -> str:
    names = [f"{Role(r).value}s" for r in roles]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def require_role(role: Role, allowed: Iterable[Role], doing: str,
                 organization: Organization) -> None:
    allowed = tuple(allowed)
    if role not in allowed:
        raise PermissionDenied(
            f"Only {_who(allowed)} of {organization.name} can {doing}; you are a {role.value}."
        )


def require_managing(role: Role, organization: Organization, doing: str) -> None:
    require_role(role, MANAGING_ROLES, doing, organization)


class RoleAllowsChange(BasePermission):
    """Reads are open to every member; a change asks the view's `check_change(request)`.

    The view resolves its organization (404 when it is not the caller's) and raises
    PermissionDenied with a useful message when the caller's role may not do the change.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        if request.method in SAFE_METHODS or not hasattr(view, request.method.lower()):
            return True  # a read, or a method the view lacks: that answers 405 itself
        check = getattr(view, "check_change", None)
        if check is not None:
            check(request)
        return True
