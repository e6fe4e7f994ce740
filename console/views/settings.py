"""The settings pages: your notification preferences and your webhooks.

Thin views: forms check the input, notifications.preferences and notifications.delivery
make the changes. Another user's webhook is a 404.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from console.bounds import DB_INT_MAX, in_utc
from console.outbound.safety import UnsafeURL, check_url
from notifications.catalogue import BY_KEY, EVENT_TYPES, OBJECTS, Channel, EventType
from notifications.delivery import endpoints as endpoint_actions
from notifications.delivery import outbox
from notifications.delivery.endpoints import ATTEMPTS_IN_ORDER, endpoint_limit_reached
from notifications.models import (
    ANY_EVENT_TYPE,
    Delivery,
    DeliveryStatus,
    DigestWindow,
    EmailDigest,
    Preference,
    WebhookEndpoint,
    WebhookFormat,
)
from notifications.preferences import (
    Rule,
    chosen_channels,
    clear_preference,
    override_problem,
    remove_override,
    set_email_digest,
    set_preference,
    usable_channels,
)
from racks.labels import rack_labels
from racks.models import App
from racks.permissions import visible_racks

LOG_LENGTH = 50
# A delivery due within this long is "on its way": the page re-reads its log until it is
# settled (static/console/deliveries.js). One waiting for a later retry is not.
ON_ITS_WAY = timedelta(seconds=30)
EVENT_FIELD_CHOICES = [(ANY_EVENT_TYPE, "Every event type"),
                       *((t.key, f"{t.title} ({t.key})") for t in EVENT_TYPES)]


# -- Notification preferences ---------------------------------------------------------------

class OverrideForm(forms.Form):
    rack = forms.ModelChoiceField(queryset=None, empty_label=None)
    app = forms.CharField(max_length=100, required=False,
                          # The rack's apps are offered (settings/notifications.html).
                          widget=forms.TextInput(attrs={"list": "override-apps"}),
                          help_text="An app's name on that rack; empty for the whole rack.")
    event_type = forms.ChoiceField(choices=EVENT_FIELD_CHOICES)
    channels = forms.MultipleChoiceField(choices=Channel.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    # Muting is said, not implied by ticking nothing.
    mute = forms.BooleanField(required=False, label="Mute it (no channel)")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        racks = visible_racks(user).order_by("organization__name", "name")
        self.fields["rack"].queryset = racks
        # Two racks of one name (in two organizations, maybe of one name) told apart.
        self.rack_labels = rack_labels(racks)
        self.fields["rack"].label_from_instance = lambda rack: self.rack_labels[rack.pk]
        self.usable = usable_channels(user)

    def clean(self) -> dict:
        data = super().clean()
        rack, app = data.get("rack"), (data.get("app") or "").strip()
        problem = override_problem(rack, app) if rack is not None else None
        if problem:
            self.add_error("app", problem)
        if set(data.get("channels") or ()) - self.usable:
            self.add_error("channels", "You have no enabled webhook: add one first, or "
                                       "untick Webhook.")
        elif data.get("mute") and data.get("channels"):
            self.add_error("mute", "Tick channels or mute it, not both.")
        elif not data.get("mute") and not data.get("channels"):
            self.add_error("channels", "Tick the channels you want, or tick Mute it.")
        return data


class RemoveOverrideForm(forms.Form):
    id = forms.IntegerField(min_value=1, max_value=DB_INT_MAX)


class DigestForm(forms.Form):
    window_minutes = forms.TypedChoiceField(choices=DigestWindow.choices, coerce=int,
                                            label="Emails")


def _everywhere_rules(user: AbstractBaseUser) -> dict[str, Rule]:
    """The user's rules that apply everywhere, by event type ("*" included)."""
    return {event_type: (event_type, None, "", channels) for event_type, channels in
            Preference.objects.filter(user=user, rack__isnull=True)
            .values_list("event_type", "channels")}


def _chosen(kind: EventType, rules: dict[str, Rule], *, own: bool = True) -> frozenset[str]:
    """The channels of an event type outside any override; without `own`, as they would
    be if it had no rule of its own."""
    keys = (ANY_EVENT_TYPE, kind.key) if own else (ANY_EVENT_TYPE,)
    return chosen_channels(kind, [rules[key] for key in keys if key in rules])


def _global_rows(user: AbstractBaseUser, usable: frozenset[str]) -> list[dict]:
    """Each event type with the channels the user gets for it outside any override, as
    (channel, label, ticked, usable): one that cannot reach them is shown unticked."""
    rules = _everywhere_rules(user)
    rows = []
    for kind in EVENT_TYPES:
        chosen = _chosen(kind, rules)
        rows.append({"kind": kind, "channels": [(c, label, c in chosen and c in usable,
                                                 c in usable)
                                                for c, label in Channel.choices]})
    return rows


def _save_global(user: AbstractBaseUser, posted: QueryDict) -> None:
    rules = _everywhere_rules(user)
    usable = usable_channels(user)
    with transaction.atomic():
        for kind in EVENT_TYPES:
            inherited = _chosen(kind, rules, own=False)
            own = set(rules[kind.key][3]) if kind.key in rules else None
            shown = {c for c in usable if posted.get(f"{kind.key}:{c}")}
            # A channel the page does not offer (a webhook, without one) keeps what the
            # user's own rule says; the defaults' is never written down for it.
            hidden_now = (inherited if own is None else own) - usable
            # All as it would be without a rule of their own, shown and hidden: keep none.
            if shown == inherited & usable and hidden_now == inherited - usable:
                clear_preference(user, event_type=kind.key)
            else:
                set_preference(user, event_type=kind.key,
                               channels=shown | ((own or set()) - usable))


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    digest = EmailDigest.objects.filter(user=user).first()
    digest_form = DigestForm(initial={"window_minutes": digest.window_minutes if digest else 0})
    override_form = OverrideForm(user=user)
    if request.method == "POST":
        what = request.POST.get("form")
        if what == "types":
            _save_global(user, request.POST)
            messages.success(request, "Your notification preferences are saved.")
            return redirect("settings-notifications")
        if what == "digest":
            digest_form = DigestForm(request.POST)
            if digest_form.is_valid():
                set_email_digest(user, digest_form.cleaned_data["window_minutes"])
                messages.success(request, "Your email choice is saved.")
                return redirect("settings-notifications")
        elif what == "override":
            override_form = OverrideForm(request.POST, user=user)
            if override_form.is_valid():
                data = override_form.cleaned_data
                set_preference(user, event_type=data["event_type"], channels=data["channels"],
                               rack_id=data["rack"].pk, app=data["app"].strip())
                messages.success(request, "The override is saved.")
                return redirect("settings-notifications")
        elif what == "remove-override":
            removal = RemoveOverrideForm(request.POST)
            if removal.is_valid():
                remove_override(user, removal.cleaned_data["id"])
                messages.success(request, "The override is removed.")
                return redirect("settings-notifications")
            messages.error(request, "That override is unknown; nothing changed.")
        else:
            messages.error(request, "That form is unknown; nothing changed.")
    usable = usable_channels(user)
    rows = _global_rows(user, usable)
    groups = [{"object": obj, "rows": [r for r in rows if r["kind"].object == obj]}
              for obj in OBJECTS]
    racks = override_form.rack_labels
    overrides = [{"rule": p, "title": BY_KEY[p.event_type].title if p.event_type in BY_KEY
                  else "Every event type", "rack": racks.get(p.rack_id, p.rack.name),
                  "labels": [Channel(c).label for c in p.channels]}
                 for p in Preference.objects.filter(user=user, rack__isnull=False)
                 .select_related("rack").order_by("rack__name", "app", "event_type")]
    apps = App.objects.filter(rack_id__in=racks).order_by("name", "rack_id")
    return render(request, "settings/notifications.html", {
        "groups": groups, "overrides": overrides, "override_form": override_form,
        "override_apps": [(a.rack_id, a.name, racks[a.rack_id]) for a in apps],
        "digest_form": digest_form, "channels": Channel.choices,
        "webhook_usable": Channel.WEBHOOK.value in usable,
    }, status=400 if request.method == "POST" else 200)


# -- Webhooks -------------------------------------------------------------------------------

class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_FIELD_CHOICES,
                                       widget=forms.CheckboxSelectMultiple,
                                       initial=[ANY_EVENT_TYPE])
    format = forms.ChoiceField(choices=WebhookFormat.choices)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "format", "events"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except UnsafeURL as error:
            raise forms.ValidationError(str(error)) from None
        return url


class RecoverForm(forms.Form):
    since = forms.DateTimeField(help_text="UTC, e.g. 2026-01-31 08:00")

    def clean_since(self):
        since = in_utc(self.cleaned_data["since"])
        if since is None:
            raise forms.ValidationError("That time is off the calendar in UTC.")
        if since > timezone.now():
            raise forms.ValidationError("That time is in the future.")
        return since


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    mine = WebhookEndpoint.objects.filter(user=request.user).order_by("id")
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refused = endpoint_limit_reached(request.user)
        if refused:
            form.add_error(None, refused)
        else:
            data = form.cleaned_data
            endpoint, secret = endpoint_actions.create_endpoint(
                request.user, url=data["url"], events=data["events"], format=data["format"],
                description=data["description"])
            # The secret is shown in this answer and kept nowhere in plain text (no
            # session, no redirect): reloading the page cannot show it again.
            return _webhook_page(request, endpoint, secret=secret, status=201)
    return render(request, "settings/webhooks.html", {"endpoints": mine, "form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, user=request.user)
    form = recover_form = None
    if request.method == "POST":
        what = request.POST.get("form")
        if what == "edit":
            form = EndpointForm(request.POST, instance=endpoint)
            if form.is_valid():
                data = form.cleaned_data
                endpoint_actions.edit_endpoint(
                    endpoint, url=data["url"], description=data["description"],
                    format=data["format"], events=data["events"])
                messages.success(request, "The webhook is saved.")
                return redirect("settings-webhook", endpoint_id=endpoint.pk)
        elif what == "recover":
            recover_form = RecoverForm(request.POST)
            if recover_form.is_valid():
                count = outbox.recover_failed(endpoint, recover_form.cleaned_data["since"])
                messages.success(request, f"{count} failed deliveries are being sent again.")
                return redirect("settings-webhook", endpoint_id=endpoint.pk)
        else:
            return _webhook_button(request, endpoint, what)
    return _webhook_page(request, endpoint, form=form, recover_form=recover_form,
                         status=400 if request.method == "POST" else 200)


def _webhook_page(request: HttpRequest, endpoint: WebhookEndpoint, *,
                  form: EndpointForm | None = None, recover_form: RecoverForm | None = None,
                  secret: str | None = None, status: int = 200) -> HttpResponse:
    """The webhook's page; with `secret`, the one answer that shows a new secret."""
    log = (Delivery.objects.filter(endpoint=endpoint).select_related("notification")
           .prefetch_related(ATTEMPTS_IN_ORDER).order_by("-id")[:LOG_LENGTH])
    if form is None:
        form = EndpointForm(instance=endpoint)
    if recover_form is None:
        recover_form = RecoverForm(initial={"since": timezone.now() - timedelta(days=1)})
    return render(request, "settings/webhook.html", {
        "endpoint": endpoint, "form": form, "recover_form": recover_form, "secret": secret,
        "deliveries": log, "refreshing": any(_on_its_way(d) for d in log),
    }, status=status)


def _on_its_way(delivery: Delivery) -> bool:
    """Being sent, or due to be within ON_ITS_WAY: its outcome is a moment away."""
    if delivery.status == DeliveryStatus.SENDING:
        return True
    return (delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
            and delivery.next_attempt_at <= timezone.now() + ON_ITS_WAY)


def _to_delivery(delivery: Delivery) -> HttpResponse:
    """Back to the webhook's page, at the delivery's row in the log."""
    page = reverse("settings-webhook", kwargs={"endpoint_id": delivery.endpoint_id})
    return redirect(f"{page}#delivery-{delivery.pk}")


def _webhook_button(request: HttpRequest, endpoint: WebhookEndpoint,
                    what: str | None) -> HttpResponse:
    back = redirect("settings-webhook", endpoint_id=endpoint.pk)
    if what == "enable":
        endpoint_actions.enable_endpoint(endpoint)
        messages.success(request, "The webhook is enabled.")
    elif what == "disable":
        endpoint_actions.pause_endpoint(endpoint)
        messages.success(request, "The webhook is disabled.")
    elif what == "rotate":
        secret = endpoint_actions.rotate_secret(endpoint)
        messages.success(request, "A new secret is made; the old one keeps signing too "
                                  "until the time shown.")
        return _webhook_page(request, endpoint, secret=secret)
    elif what == "test":
        try:
            delivery = outbox.send_test_event(endpoint)
        except outbox.TooManyTestSends as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "A test event is on its way; it shows in the log "
                                      "below.")
            return _to_delivery(delivery)
    elif what == "delete":
        endpoint_actions.delete_endpoint(endpoint)
        messages.success(request, "The webhook is deleted.")
        return redirect("settings-webhooks")
    else:
        return HttpResponseBadRequest("That button is unknown; nothing changed.")
    return back


@login_required
@require_POST
def redeliver(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery, pk=delivery_id, endpoint_id=endpoint_id,
                                 endpoint__user=request.user)
    try:
        outbox.redeliver(delivery)
    except outbox.NotNow as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Delivery {delivery.webhook_id} is being sent again.")
    return _to_delivery(delivery)
