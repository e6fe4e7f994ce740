"""Caps: how many racks an organization, and how many apps and resources a rack, may hold.

The caps are settings (MAX_RACKS_PER_ORGANIZATION, MAX_APPS_PER_RACK,
MAX_RESOURCES_PER_RACK). Every path that adds one asks here: the API and the dashboard
(through racks.membership and the rack's driver) call `check_room`, which refuses with a
message naming the cap; the events a rack reports (racks.intake.state) call `has_room`, and past
the cap the notification is still stored but the app or resource is not modelled: it is
noted as a `CapOverflow`, and the rack is shown as over its cap (`over_caps`).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, Model, OuterRef, QuerySet

from racks.models import CapOverflow, Capped, Organization, Rack


@dataclass(frozen=True)
class Cap:
    setting: str
    what: str
    per: str


CAPS = {
    Capped.RACKS: Cap("MAX_RACKS_PER_ORGANIZATION", "racks", "organization"),
    Capped.APPS: Cap("MAX_APPS_PER_RACK", "apps", "rack"),
    Capped.RESOURCES: Cap("MAX_RESOURCES_PER_RACK", "resources", "rack"),
}
# What a rack's own events can add past a cap (racks are added in the console only).
REPORTED = (Capped.APPS, Capped.RESOURCES)


class CapReached(Exception):
    """The organization or rack already holds its cap; the text names the cap."""


def cap_of(kind: Capped) -> int:
    """The cap, read when asked, so a deployment's (or a test's) setting applies."""
    return {
        Capped.RACKS: settings.MAX_RACKS_PER_ORGANIZATION,
        Capped.APPS: settings.MAX_APPS_PER_RACK,
        Capped.RESOURCES: settings.MAX_RESOURCES_PER_RACK,
    }[kind]


def _holder(kind: Capped, holder: Organization | Rack) -> tuple[type[Model], QuerySet]:
    if kind == Capped.RACKS:
        return Organization, Rack.objects.filter(organization=holder)
    rows = holder.apps.all() if kind == Capped.APPS else holder.resources.all()
    return Rack, rows


def _lock_and_count(holder: Organization | Rack, kind: Capped) -> int:
    """Lock the holder's row, then count what it holds of `kind`.

    The lock serialises every add of the holder until the transaction ends, so two adds
    at once cannot both see room for one. FOR NO KEY UPDATE: it does not wait for the
    KEY SHARE locks that inserting a row which refers to the holder (an app, a
    notification) takes, so an add and an ingest of the same rack cannot deadlock.
    """
    model, rows = _holder(kind, holder)
    model.objects.select_for_update(no_key=True).filter(pk=holder.pk).first()
    return rows.count()


def has_room(holder: Organization | Rack, kind: Capped) -> bool:
    """Whether one more of `kind` fits. Call inside the transaction that adds it."""
    return _lock_and_count(holder, kind) < cap_of(kind)


def check_room(holder: Organization | Rack, kind: Capped) -> None:
    """Raise CapReached unless one more of `kind` fits. Call inside the transaction that
    adds it, before adding."""
    held, cap = _lock_and_count(holder, kind), cap_of(kind)
    if held >= cap:
        rule = CAPS[kind]
        raise CapReached(
            f"{holder.name} already has {held} {rule.what}, the most a {rule.per} may have "
            f"({rule.setting} = {cap}): delete one before adding another.")


def note_over_cap(rack: Rack, kind: Capped, name: str) -> None:
    """The rack reported an app or resource past its cap: remember that it is not modelled."""
    CapOverflow.objects.get_or_create(rack=rack, kind=kind, name=name)


def forget_over_cap(rack: Rack, kind: Capped, name: str) -> None:
    """The rack reported that app or resource gone: it no longer counts as over the cap."""
    CapOverflow.objects.filter(rack=rack, kind=kind, name=name).delete()


def with_over_caps(racks: QuerySet[Rack]) -> QuerySet[Rack]:
    """The racks, each annotated with whether it is over each cap its events can pass
    (one EXISTS each on cap_overflow_once_per_name), for lists of racks."""
    return racks.annotate(**{
        f"over_{kind}_cap": Exists(CapOverflow.objects.filter(rack=OuterRef("pk"), kind=kind))
        for kind in REPORTED})


def over_caps(rack: Rack) -> list[str]:
    """Which caps the rack's events went past ("apps", "resources"); empty within them."""
    if all(hasattr(rack, f"over_{kind}_cap") for kind in REPORTED):
        return [kind.value for kind in REPORTED if getattr(rack, f"over_{kind}_cap")]
    kinds = set(rack.cap_overflows.values_list("kind", flat=True).distinct())
    return [kind.value for kind in REPORTED if kind in kinds]


@dataclass(frozen=True)
class OverCap:
    """What the rack page says of one cap the rack's events went past."""

    kind: str
    setting: str
    cap: int
    count: int
    names: list[str]


def over_cap_report(rack: Rack, *, names: int = 10) -> list[OverCap]:
    """For each cap the rack went past: how many of its apps or resources are not
    modelled, and the first few of their names."""
    report = []
    for kind in REPORTED:
        rows = rack.cap_overflows.filter(kind=kind).order_by("name")
        count = rows.count()
        if count:
            report.append(OverCap(kind.value, CAPS[kind].setting, cap_of(kind), count,
                                  list(rows.values_list("name", flat=True)[:names])))
    return report
