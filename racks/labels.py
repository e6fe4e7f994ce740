"""How organizations and racks are named in lists a person picks from (the switcher, the
feed's rack filter, the settings' override picker).

Organization names are not unique (each team names its own), so two a reader belongs to
may read the same: there, the organization's slug, which is unique, tells them apart
("Acme (acme-2) / production"). Labels for <option>s, which cannot hold <bdi>, have their
bidirectional controls dropped (racks.text)."""

from collections import Counter
from collections.abc import Iterable

from racks.models import Organization, Rack
from racks.text import without_bidi_controls


def repeated_names(organizations: Iterable[Organization]) -> set[int]:
    """The ids of the organizations whose name another of them also has (in any case)."""
    organizations = list(organizations)
    counts = Counter(o.name.casefold() for o in organizations)
    return {o.pk for o in organizations if counts[o.name.casefold()] > 1}


def organization_labels(organizations: Iterable[Organization]) -> dict[int, str]:
    """Each organization's name by id, with its slug when another of them has the name."""
    organizations = list(organizations)
    repeated = repeated_names(organizations)
    return {o.pk: without_bidi_controls(f"{o.name} ({o.slug})" if o.pk in repeated else o.name)
            for o in organizations}


def rack_labels(racks: Iterable[Rack]) -> dict[int, str]:
    """Each rack's label, "organization / rack", by rack id, the organizations labelled
    as organization_labels does among these racks'."""
    racks = list(racks)
    organizations = organization_labels({r.organization_id: r.organization
                                         for r in racks}.values())
    return {r.pk: without_bidi_controls(f"{organizations[r.organization_id]} / {r.name}")
            for r in racks}
