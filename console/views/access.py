"""What pages ask of racks.permissions, and the app lookup and role tests they add."""

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404

from racks import permissions
from racks.models import ACTING_ROLES, MANAGING_ROLES, App, Organization, Role
from racks.permissions import rack_for

__all__ = ["rack_for", "app_for", "require", "may_act", "may_manage"]


def app_for(user: AbstractBaseUser, rack_id: int, name: str) -> tuple[App, Role]:
    rack, role = rack_for(user, rack_id)
    app = rack.apps.filter(name=name).first()
    if app is None:
        raise Http404(f"There is no app named {name} on {rack.name}.")
    app.rack = rack
    return app, role


def require(role: Role, organization: Organization, *, managing: bool = False,
            doing: str) -> None:
    """403 with a message naming who may do it, in an organization the caller can see."""
    permissions.require_role(role, MANAGING_ROLES if managing else ACTING_ROLES, doing,
                             organization)


def may_act(role: Role) -> bool:
    return role in ACTING_ROLES


def may_manage(role: Role) -> bool:
    return role in MANAGING_ROLES
