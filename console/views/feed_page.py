"""The feed as a page: its first page rendered here, so it reads without JavaScript, from
the API's own query (notifications.api.feed.shown_page) and items; the feed's script then
takes over (infinite scroll, live items, marks), filling the same item partial
(templates/console/_item.html) from its <template>.

On a rack's page the feed is the rack's history, which every member reads."""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from console.converters import BuildIdConverter, NameConverter, ReleaseIdConverter
from notifications.api.feed import shown_page
from notifications.catalogue import EVENT_TYPES, Severity
from notifications.feed import undo_max
from notifications.models import Source
from racks import permissions
from racks.labels import organization_labels, rack_labels
from racks.models import Rack

STATUSES = ("success", "start", "error", "skipped", "cancel")
FILTERS = ("rack", "app", "event_type", "status", "unread")

# Where an item came from, in the item's words.
SOURCES = ((Source.CONSOLE.value, "from the console"), (Source.RACK.value, "from the rack"))
# What the item <template>'s links hold where an item's own values go: feed.js puts the
# item's rack id, app name and build or release id in their place (each a whole part of
# the path or fragment, between "/", "#" and "-": no real value is one of them there).
PLACEHOLDER_RACK = 0
PLACEHOLDER_APP = "APPNAME"
PLACEHOLDER_BUILD = "BXXXXXXXXXX"
PLACEHOLDER_RELEASE = "RXXXXXXXXXX"
# What the pages' URLs take for an app's name and a build's or release's id: an item links
# to what they take, here and in feed.js, which reads these from the item <template>.
PATTERNS = {"app": NameConverter.regex, "build": BuildIdConverter.regex,
            "release": ReleaseIdConverter.regex}


@dataclass(frozen=True)
class ShownItem:
    """A feed item with what its markup shows beside it."""

    item: dict[str, Any]
    created: datetime
    organization: str
    rack_url: str
    app_url: str
    object_kind: str  # "build", "release" or ""
    object_url: str

    @property
    def day(self) -> date:
        return timezone.localtime(self.created).date()


def _reversed(name: str, *args: object) -> str:
    """The page's path, or "" for a name its URL cannot hold (a real rack's app)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def shown_item(item: dict[str, Any], organizations: dict[int, str]) -> ShownItem:
    rack, app = item["rack"], item["app"]
    app_url = _reversed("app", rack, app) if app else ""
    object_id = item["data"].get("id", "") if isinstance(item["data"], dict) else ""
    kind, object_url = "", ""
    kinds = [k for k in ("build", "release") if re.fullmatch(PATTERNS[k], str(object_id))]
    if app_url and kinds:
        kind = kinds[0]
        object_url = (_reversed("build", rack, app, object_id) if kind == "build"
                      else f"{app_url}#release-{object_id}")
    created = parse_datetime(item["created_at"]) or timezone.now()
    return ShownItem(item, created, organizations.get(rack, ""), reverse("rack", args=[rack]),
                     app_url, kind, object_url)


def feed_context(request: HttpRequest, rack: Rack | None = None) -> dict[str, object]:
    """The feed's filters, chosen as the query string says (shareable, kept on reload),
    and the page of items they choose."""
    racks = list(permissions.visible_racks(request.user).order_by("organization__name", "name"))
    several = len({r.organization_id for r in racks}) > 1
    # Items name their organization only for a reader of several.
    named = organization_labels({r.organization_id: r.organization for r in racks}.values())
    organizations = {r.pk: named[r.organization_id] for r in racks} if several else {}
    labels = rack_labels(racks)
    page = shown_page(request, rack)
    return {
        "racks": racks,
        "rack_choices": [(r.pk, labels[r.pk]) for r in racks],
        "rack_organizations": organizations,
        "event_types": [(t.key, t.title) for t in EVENT_TYPES],
        "statuses": STATUSES,
        "fixed": {"rack": rack.pk} if rack else {},
        "chosen": {name: request.GET.get(name, "")[:100] for name in FILTERS},
        "page": page,
        "shown": [shown_item(item, organizations) for item in page.items],
        "filtered": any(request.GET.get(name) for name in FILTERS
                        if not (rack and name == "rack")),
        "severities": Severity.values,
        "undo_max": undo_max(),
        "sources": SOURCES,
        "patterns": PATTERNS,
        "placeholder": {"rack": PLACEHOLDER_RACK, "app": PLACEHOLDER_APP,
                        "build": PLACEHOLDER_BUILD, "release": PLACEHOLDER_RELEASE},
    }


@login_required
@require_GET
def feed(request: HttpRequest) -> HttpResponse:
    context = feed_context(request)
    return render(request, "console/feed.html", context,
                  status=400 if context["page"].refused else 200)
