"""Pages that show things: the feed, organizations, racks, apps and builds."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from console.forms import (
    AppForm,
    BuildForm,
    EnvForm,
    InviteForm,
    OrganizationForm,
    RackConnectForm,
    RackForm,
    RackUpdateForm,
    ResourceForm,
    ScaleForm,
    SigningKeyForm,
    SourceBuildForm,
)
from console.views.access import app_for, may_act, may_manage, rack_for, require
from console.views.feed_page import feed_context
from console.views.timeline import build_timeline
from notifications.activity import activity
from notifications.history import history, is_read
from racks import permissions
from racks.caps import over_cap_report
from racks.env import env_as_seen, may_read_env_values
from racks.invitations import pending_of
from racks.lifecycle import RackRefused, create_rack
from racks.membership import MembershipError, create_organization
from racks.models import App, Generation, Organization, Rack, Role

TIMELINE_LENGTH = 100


def formation_units(rack: Rack) -> tuple[str, str]:
    """How a rack counts cpu and memory: v3 racks in millicores and MiB."""
    if rack.generation == Generation.V3:
        return "millicores", "MiB"
    return "CPU units", "MB"


@login_required
@require_http_methods(["GET", "POST"])
def organizations(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = create_organization(request.user, form.cleaned_data["name"])
        except MembershipError as refused:
            form.add_error("name", str(refused))
        else:
            messages.success(request, f"Created the organization {org.name}.")
            return redirect("organization", slug=org.slug)
    memberships = (request.user.memberships.select_related("organization")
                   .order_by("organization__name"))
    return render(request, "console/organizations.html",
                  {"memberships": memberships, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def organization(request: HttpRequest, slug: str) -> HttpResponse:
    org, role = permissions.organization_for(request.user, slug)
    if request.method == "POST":
        require(role, org, managing=True, doing="add racks")
        form = RackForm(request.POST)
        if form.is_valid():
            try:
                rack = create_rack(org, form.cleaned_data["name"])
            except RackRefused as refused:
                form.add_error("name", str(refused))
            else:
                messages.success(request, f"Added the rack {rack.name}.")
                return redirect("rack", rack_id=rack.pk)
        return organization_page(request, org, role, refused=form)
    return organization_page(request, org, role)


def organization_page(request: HttpRequest, org: Organization, role: Role, *,
                      refused: Form | None = None) -> HttpResponse:
    """The organization's page; with `refused`, one of its forms as it was sent, with its
    errors (a 400), the others fresh."""
    forms: dict[str, Form] = {"form": RackForm(), "invite_form": InviteForm(),
                              "connect_form": RackConnectForm()}
    forms.update(_refused(forms, refused))
    return render(request, "console/organization.html", {
        "org": org, "role": role, "may_manage": may_manage(role),
        "racks": org.racks.order_by("name"),
        "members": org.memberships.select_related("user").order_by("user__username"),
        "invitations": (pending_of(org).select_related("invited_by").order_by("created_at")
                        if may_manage(role) else []),
        "roles": Role.choices, **forms,
    }, status=400 if refused else 200)


@login_required
@require_GET
def racks(request: HttpRequest) -> HttpResponse:
    rows = permissions.visible_racks(request.user).order_by("organization__name", "name")
    return render(request, "console/racks.html", {"racks": rows})


@login_required
@require_GET
def rack(request: HttpRequest, rack_id: int) -> HttpResponse:
    rack, role = rack_for(request.user, rack_id)
    return rack_page(request, rack, role)


def rack_page(request: HttpRequest, rack: Rack, role: Role, *,
              refused: Form | None = None) -> HttpResponse:
    """The rack's page; with `refused`, one of its forms as it was sent, with its errors
    (a 400), the others fresh."""
    forms: dict[str, Form] = {
        "app_form": AppForm(), "resource_form": ResourceForm(),
        "update_form": RackUpdateForm(initial={
            "version": rack.version, "count": rack.instance_count,
            "instance_type": rack.instance_type}),
        "signing_key_form": SigningKeyForm(),
    }
    forms.update(_refused(forms, refused))
    context = feed_context(request, rack)
    context.update({
        "rack": rack, "may_act": may_act(role), "may_manage": may_manage(role),
        "ingest_url": request.build_absolute_uri(rack.ingest_path) if may_act(role) else "",
        "apps": rack.apps.order_by("name"),
        "over_caps": over_cap_report(rack),
        "units": formation_units(rack),
        "resources": rack.resources.order_by("name"),
        "activity": activity(rack),
        **forms,
    })
    return render(request, "console/rack.html", context,
                  status=400 if refused or context["page"].refused else 200)


def _refused(forms: dict[str, Form], refused: Form | None) -> dict[str, Form]:
    """The page's form of the refused form's kind, replaced by it."""
    if refused is None:
        return {}
    return {key: refused for key, form in forms.items() if type(form) is type(refused)}


@login_required
@require_GET
def app(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    return app_page(request, app, role)


def app_page(request: HttpRequest, app: App, role: Role, *,
             refused: Form | None = None) -> HttpResponse:
    """The app's page; with `refused`, one of its forms as it was sent, with its errors
    (a 400), the others fresh."""
    releases = list(app.releases.select_related("build").order_by("-created_at")[:50])
    # The app's history, not the reader's feed: a member who joined later sees it too.
    events = (history(app.rack, request.user, app=app.name).select_related("rack")
              .order_by("-id")[:TIMELINE_LENGTH])
    latest_env = releases[0].env if releases else {}
    # Viewers read the names only (racks.env); the form, with the values, is for those
    # who may change them and so may read them.
    env = env_as_seen(latest_env, role)
    forms: dict[str, Form] = {}
    if may_act(role):
        forms = {"build_form": BuildForm(), "scale_form": ScaleForm(),
                 "source_form": SourceBuildForm(),
                 "env_form": EnvForm(initial={"env": EnvForm.as_text(env),
                                              "based_on": releases[0].id if releases else ""})}
        forms.update(_refused(forms, refused))
    return render(request, "console/app.html", {
        "app": app, "rack": app.rack, "may_act": may_act(role),
        "env": sorted(env.items()), "env_values_shown": may_read_env_values(role),
        "builds": app.builds.order_by("-created_at")[:30],
        "releases": releases,
        "formation": app.formation.order_by("process"),
        "units": formation_units(app.rack),
        "timeline": build_timeline([(n, is_read(n.read_state)) for n in events]),
        "activity": activity(app.rack, app.name),
        "env_form": None, **forms,
    }, status=400 if refused else 200)


@login_required
@require_GET
def build(request: HttpRequest, rack_id: int, name: str, build_id: str) -> HttpResponse:
    app, _ = app_for(request.user, rack_id, name)
    build = app.builds.filter(pk=build_id).first()
    if build is None:
        raise Http404(f"There is no build {build_id} of {app.name}.")
    return render(request, "console/build.html",
                  {"app": app, "rack": app.rack, "build": build})
