"""Buttons that act on a rack: each parses its form, checks the role, calls the driver.

A form error, or a refusal by the rack (RackError), shows the page the form was sent from
again with the form as it was typed and the error beside its field (or atop the form);
nothing is changed. What was done is said in a message after a redirect.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.forms import (
    AppForm,
    BuildForm,
    EnvForm,
    RackConnectForm,
    RackUpdateForm,
    ResourceForm,
    ScaleForm,
    SigningKeyForm,
    SourceBuildForm,
)
from console.views.access import app_for, rack_for, require
from console.views.pages import app_page, organization_page, rack_page
from racks import lifecycle, permissions
from racks.connect import connect_rack, disconnect_rack
from racks.driver import UPLOAD_CHUNK_BYTES, RackError, Source
from racks.drivers import driver_for
from racks.models import App, Rack


def _run(request: HttpRequest, form: Form, back: str,
         page: Callable[[Form], HttpResponse], act: Callable[[dict], str]) -> HttpResponse:
    """Validate and act, then say what was done on the page the form was on (`back`), or
    show that page again with the form refused (`page`)."""
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except RackError as refused:
            # Beside the field the refusal concerns, when the form has it.
            form.add_error(refused.field if refused.field in form.fields else None,
                           str(refused))
        else:
            messages.success(request, done)
            return redirect(back)
    return page(form)


def _press(request: HttpRequest, back: str, act: Callable[[], str]) -> HttpResponse:
    """A button with nothing typed: act and say what was done, or say why the rack
    refused; either way back to the page it was on."""
    try:
        messages.success(request, act())
    except RackError as refused:
        messages.error(request, str(refused))
    return redirect(back)


def _rack_page(rack: Rack) -> str:
    return reverse("rack", kwargs={"rack_id": rack.pk})


def _app_page(app: App) -> str:
    return reverse("app", kwargs={"rack_id": app.rack_id, "name": app.name})


@login_required
@require_POST
def create_app(request: HttpRequest, rack_id: int) -> HttpResponse:
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, doing="create apps")

    def act(data: dict) -> str:
        driver_for(rack).create_app(rack, data["name"])
        return f"Created the app {data['name']}."
    return _run(request, AppForm(request.POST), _rack_page(rack),
                lambda form: rack_page(request, rack, role, refused=form), act)


@login_required
@require_POST
def delete_app(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="delete apps")

    def act() -> str:
        driver_for(app.rack).delete_app(app)
        return f"Deleted the app {name}."
    return _press(request, _rack_page(app.rack), act)


@login_required
@require_POST
def start_build(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="start builds")

    def act(data: dict) -> str:
        build = driver_for(app.rack).start_build(app, description=data["description"],
                                                 fail=data["fail"])
        return f"Started build {build.id}."
    return _run(request, BuildForm(request.POST), _app_page(app),
                lambda form: app_page(request, app, role, refused=form), act)


@login_required
@require_POST
def start_source_build(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    """A build of a connected rack, from an uploaded tarball (the path is under /uploads/:
    SOURCE_UPLOAD_MAX_BYTES is its body cap, console.body_limit)."""
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="start builds")

    def act(data: dict) -> str:
        uploaded = data["source"]  # past FILE_UPLOAD_MAX_MEMORY_SIZE, a temporary file
        build = driver_for(app.rack).start_build(
            app, description=data["description"],
            source=Source.of(uploaded.chunks(UPLOAD_CHUNK_BYTES), uploaded.size))
        return f"Started build {build.id}."
    return _run(request, SourceBuildForm(request.POST, request.FILES), _app_page(app),
                lambda form: app_page(request, app, role, refused=form), act)


@login_required
@require_POST
def set_env(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="change environments")

    def act(data: dict) -> str:
        release = driver_for(app.rack).set_env(app, data["env"], based_on=data["based_on"])
        return f"Created release {release.id} with the new environment."
    return _run(request, EnvForm(request.POST), _app_page(app),
                lambda form: app_page(request, app, role, refused=form), act)


@login_required
@require_POST
def promote(request: HttpRequest, rack_id: int, name: str, release_id: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="promote releases")
    release = app.releases.filter(pk=release_id).first()
    if release is None:
        raise Http404(f"There is no release {release_id} of {app.name}.")

    force = request.POST.get("force") == "true"  # the page asked for confirmation first

    def act() -> str:
        driver_for(app.rack).promote(release, force=force)
        return f"Promoting release {release.id}: the rolling deploy has started."
    return _press(request, _app_page(app), act)


@login_required
@require_POST
def scale(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    app, role = app_for(request.user, rack_id, name)
    require(role, app.rack.organization, doing="scale apps")

    def act(data: dict) -> str:
        driver_for(app.rack).scale(app, data["process"], data["count"], cpu=data["cpu"],
                                   memory=data["memory"])
        return f"Scaled {data['process']} to {data['count']}."
    return _run(request, ScaleForm(request.POST), _app_page(app),
                lambda form: app_page(request, app, role, refused=form), act)


@login_required
@require_POST
def create_resource(request: HttpRequest, rack_id: int) -> HttpResponse:
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, doing="create resources")

    def act(data: dict) -> str:
        driver_for(rack).create_resource(rack, data["name"], data["type"])
        return f"Created the {data['type']} resource {data['name']}."
    return _run(request, ResourceForm(request.POST), _rack_page(rack),
                lambda form: rack_page(request, rack, role, refused=form), act)


@login_required
@require_POST
def delete_resource(request: HttpRequest, rack_id: int, name: str) -> HttpResponse:
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, doing="delete resources")
    resource = rack.resources.filter(name=name).first()
    if resource is None:
        raise Http404(f"There is no resource named {name} on {rack.name}.")

    def act() -> str:
        driver_for(rack).delete_resource(resource)
        return f"Deleted the resource {name}."
    return _press(request, _rack_page(rack), act)


@login_required
@require_POST
def update_rack(request: HttpRequest, rack_id: int) -> HttpResponse:
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, managing=True, doing="update racks")

    def act(data: dict) -> str:
        driver_for(rack).update_rack(
            rack, version=data["version"] or None, count=data["count"],
            instance_type=data["instance_type"] or None)
        return f"Asked {rack.name} to update."
    return _run(request, RackUpdateForm(request.POST), _rack_page(rack),
                lambda form: rack_page(request, rack, role, refused=form), act)


@login_required
@require_POST
def connect(request: HttpRequest, slug: str) -> HttpResponse:
    """Connect a Convox rack to the organization (owners and admins)."""
    org, role = permissions.organization_for(request.user, slug)
    require(role, org, managing=True, doing="connect racks")
    form = RackConnectForm(request.POST)
    if not form.is_valid():
        return organization_page(request, org, role, refused=form)
    data = form.cleaned_data
    try:
        connected = connect_rack(org, data["name"], host=data["host"],
                                 password=data["password"],
                                 tls_fingerprint=data["tls_fingerprint"], user=request.user)
    except RackError as refused:
        form.add_error(None, f"The rack was not connected: {refused}")
        return organization_page(request, org, role, refused=form)
    rack = connected.rack
    messages.success(request, f"Connected {rack.name}: a v{rack.generation} rack on "
                              f"{rack.provider or 'an unknown provider'}, version {rack.version}. "
                              "Its events come to the console through its webhook.")
    for warning in connected.warnings:
        messages.warning(request, warning)
    if connected.signing_key_command:
        messages.info(request, "So that the rack signs its events, run "
                               f"{connected.signing_key_command} then save that key "
                               "(after the = sign) under Signing keys on this page.")
    return redirect(_rack_page(rack))


@login_required
@require_POST
def disconnect(request: HttpRequest, rack_id: int) -> HttpResponse:
    """Disconnect a connected rack: its webhook leaves the rack, the rack the console."""
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, managing=True, doing="disconnect racks")
    org = rack.organization
    for warning in disconnect_rack(rack):
        messages.warning(request, warning)
    messages.success(request, f"Disconnected {rack.name}.")
    return redirect("organization", slug=org.slug)


@login_required
@require_POST
def set_signing_key(request: HttpRequest, rack_id: int) -> HttpResponse:
    """Save the rack's signing keys, as set on the rack (owners and admins)."""
    rack, role = rack_for(request.user, rack_id)
    require(role, rack.organization, managing=True, doing="change signing keys")

    def act(data: dict) -> str:
        lifecycle.set_webhook_signing_key(rack, data["webhook_signing_key"])
        if data["webhook_signing_key"]:
            return "Saved: the rack's events must now carry a valid Convox-Signature."
        return "Cleared: the rack's events need no signature."
    return _run(request, SigningKeyForm(request.POST), _rack_page(rack),
                lambda form: rack_page(request, rack, role, refused=form), act)
