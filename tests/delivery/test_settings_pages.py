"""The settings pages: notification preferences and webhooks, as each role and strangers."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from notifications.catalogue import EVENT_TYPES
from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.outbox import send_test_event
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailDigest,
    FeedEntry,
    Preference,
    WebhookEndpoint,
)
from notifications.preferences import default_channels, set_preference
from racks.local import LocalRack
from tests.delivery.conftest import ROLES, Answer
from tests.helpers import wait_for


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_event_types_grouped_with_their_meaning(client_for, rack, role):
    client = client_for(role)
    page = client.get("/settings/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    for kind in EVENT_TYPES:
        assert f'id="type-{kind.key}"' in html
    assert "A convox app has been created, as with convox apps create" in html
    assert html.index(">App<") < html.index(">Build<") < html.index(">Release<")
    assert f'<option value="{rack.pk}"' in html  # overrides offer the user's racks
    assert 'name="build:failed:email" value="on" checked' in html
    assert 'name="build:complete:email" value="on" aria' in html  # not checked


def test_anonymous_is_sent_to_log_in(client):
    for path in ("/settings/notifications/", "/settings/webhooks/", "/settings/webhooks/1/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_wrong_method_is_405(client_for):
    client = client_for("member")
    assert client.put("/settings/notifications/").status_code == 405
    assert client.get("/settings/webhooks/1/deliveries/1/redeliver/").status_code == 405


def test_unticking_email_for_failed_builds_stops_the_email(client_for, member, rack, emit):
    client = client_for("member")
    form = {"form": "types"}
    for kind in EVENT_TYPES:
        for channel in default_channels(kind):  # the page as it came, ticked
            form[f"{kind.key}:{channel}"] = "on"
    del form["build:failed:email"]
    answer = client.post("/settings/notifications/", form)
    assert answer.status_code == 302
    # They have no webhook: the webhook box posted by hand is not stored.
    assert list(Preference.objects.filter(user=member).values_list("event_type", "channels")) == [
        ("build:failed", ["in_app"])]
    notification = emit("build:create", "error", id="BABCDEFGHIJ", app="web")
    assert not Delivery.objects.filter(user=member, notification=notification,
                                       channel="email").exists()
    assert FeedEntry.objects.filter(user=member, notification=notification).exists()
    page = client.get("/settings/notifications/").content.decode()
    assert 'name="build:failed:email" value="on" aria' in page


def test_an_app_override_mutes_it_and_can_be_removed(client_for, viewer, rack, emit):
    client = client_for("viewer")
    LocalRack().create_app(rack, "noisy")
    answer = client.post("/settings/notifications/", {
        "form": "override", "rack": rack.pk, "app": "noisy", "event_type": "*", "mute": "on"})
    assert answer.status_code == 302
    rule = Preference.objects.get(user=viewer)
    assert (rule.rack_id, rule.app, rule.event_type, rule.channels) == (rack.pk, "noisy", "*", [])
    muted = emit("build:create", "error", id="BABCDEFGHIJ", app="noisy")
    assert not FeedEntry.objects.filter(user=viewer, notification=muted).exists()
    page = client.get("/settings/notifications/").content.decode()
    assert "noisy" in page and "muted" in page
    client.post("/settings/notifications/", {"form": "remove-override", "id": rule.pk})
    assert not Preference.objects.filter(user=viewer).exists()


def test_an_outsider_cannot_override_another_organizations_rack(client_for, rack):
    client = client_for("outsider")
    answer = client.post("/settings/notifications/", {
        "form": "override", "rack": rack.pk, "event_type": "*", "channels": ["email"]})
    assert answer.status_code == 400
    assert "Select a valid choice" in answer.content.decode()
    assert not Preference.objects.exists()


def test_choosing_a_digest(client_for, member):
    client = client_for("member")
    assert client.post("/settings/notifications/",
                       {"form": "digest", "window_minutes": "60"}).status_code == 302
    assert EmailDigest.objects.get(user=member).window_minutes == 60
    assert client.post("/settings/notifications/",
                       {"form": "digest", "window_minutes": "7"}).status_code == 400
    assert EmailDigest.objects.get(user=member).window_minutes == 60


@pytest.mark.parametrize("role", ROLES)
def test_each_role_adds_a_webhook_and_sees_its_secret_once(client_for, receiver, role):
    client = client_for(role)
    answer = client.post("/settings/webhooks/", {
        "url": receiver.url, "description": "ops", "format": "discord",
        "events": ["build:failed", "release:promote-failed"]})
    assert answer.status_code == 201
    endpoint = WebhookEndpoint.objects.get(user=client.user)
    assert endpoint.format == "discord"
    assert endpoint.events == ["build:failed", "release:promote-failed"]
    page = answer.content.decode()
    assert "data-secret>whsec_" in page and 'data-copy="#webhook-secret"' in page
    # The page's buttons post to the webhook's own page, not to the list it came from.
    assert f'action="/settings/webhooks/{endpoint.pk}/"' in page
    assert "data-secret" not in client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    listing = client.get("/settings/webhooks/").content.decode()
    assert receiver.url in listing


def _session_text() -> str:
    """Everything the session table holds, raw and decoded."""
    return "".join(row.session_data + json.dumps(row.get_decoded(), default=str)
                   for row in Session.objects.all())


def test_a_new_secret_is_shown_but_never_kept_in_the_session(db, client_for, member, receiver):
    client = client_for("member")
    created = client.post("/settings/webhooks/", {
        "url": receiver.url, "format": "standard", "events": ["*"]})
    assert Session.objects.exists() and "whsec_" not in _session_text()
    secret = re.search(r"data-secret>(whsec_[^<]+)<", created.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get(user=member)
    rotated = client.post(f"/settings/webhooks/{endpoint.pk}/", {"form": "rotate"})
    assert rotated.status_code == 200 and "whsec_" not in _session_text()
    new_secret = re.search(r"data-secret>(whsec_[^<]+)<", rotated.content.decode()).group(1)
    assert new_secret != secret
    stored = _session_text()
    for shown in (secret, new_secret):
        assert shown.removeprefix("whsec_") not in stored


def test_the_test_button_is_throttled_with_a_message(db, client_for, member, receiver, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "webhook_test": "2/min"}}
    client = client_for("member")
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    page = f"/settings/webhooks/{endpoint.pk}/"
    for _ in range(2):
        assert "on its way" in client.post(page, {"form": "test"},
                                           follow=True).content.decode()
    refused = client.post(page, {"form": "test"}, follow=True).content.decode()
    assert "limited to 2 a minute; try again in" in refused
    assert Delivery.objects.filter(endpoint=endpoint, notification=None).count() == 2


def test_a_private_url_is_refused_with_a_message(client_for, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    client = client_for("member")
    answer = client.post("/settings/webhooks/", {
        "url": "http://10.1.2.3/hook", "format": "standard", "events": ["*"]})
    assert answer.status_code == 400
    assert "private or reserved address" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_another_users_webhook_is_404(client_for, member, receiver):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    delivery = Delivery.objects.create(user=member, channel="webhook", endpoint=endpoint,
                                       status=DeliveryStatus.FAILED)
    for stranger in ("outsider", "admin"):
        client = client_for(stranger)
        assert client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404
        assert client.post(f"/settings/webhooks/{endpoint.pk}/",
                           {"form": "delete"}).status_code == 404
        assert client.post(f"/settings/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/"
                           "redeliver/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_the_webhook_page_buttons(client_for, member, rack, receiver, emit):
    client = client_for("member")
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    page = f"/settings/webhooks/{endpoint.pk}/"
    emit("app:create", app="web", name="web")
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=5,
                                                   last_error="The receiver answered 500")
    html = client.get(page).content.decode()
    assert "[production] Created app web" in html and "The receiver answered 500" in html
    assert delivery.webhook_id in html

    assert client.post(page, {"form": "disable"}).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    client.post(page, {"form": "enable"})
    endpoint.refresh_from_db()
    assert endpoint.enabled

    answer = client.post(page, {"form": "rotate"}, follow=True)
    assert "data-secret>whsec_" in answer.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_until is not None

    client.post(page, {"form": "test"})
    assert Delivery.objects.filter(endpoint=endpoint, notification=None).count() == 1

    answer = client.post(f"{page}deliveries/{delivery.pk}/redeliver/")
    assert answer["Location"] == f"{page}#delivery-{delivery.pk}"  # back at its row
    delivery.refresh_from_db()
    # The count goes on (the log keeps every attempt); the retry schedule starts over.
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 5
    assert delivery.attempts_since_resend == 0

    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    answer = client.post(page, {"form": "recover", "since": "2000-01-01 00:00"}, follow=True)
    assert "1 failed deliveries are being sent again" in answer.content.decode()
    assert client.post(page, {"form": "recover", "since": "3000-01-01 00:00"}).status_code == 400
    assert client.post(page, {"form": "explode"}).status_code == 400

    answer = client.post(page, {"form": "edit", "url": receiver.url, "format": "slack",
                                "events": ["app:create"], "description": "chat"})
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.format, endpoint.events) == ("slack", ["app:create"])

    assert client.post(page, {"form": "delete"}).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize(("posted", "error"), [
    ({"app": "ghost", "channels": ["email"]}, "production has no app named ghost."),
    ({"app": "<script>", "channels": ["email"]}, "production has no app named &lt;script&gt;."),
    ({"app": ""}, "Tick the channels you want, or tick Mute it."),
    ({"app": "", "channels": ["email"], "mute": "on"}, "Tick channels or mute it, not both."),
    ({"app": "", "channels": ["webhook"]}, "You have no enabled webhook: add one first"),
])
def test_an_override_that_cannot_be_is_refused_with_why(client_for, member, rack, posted, error):
    client = client_for("member")
    answer = client.post("/settings/notifications/", {
        "form": "override", "rack": rack.pk, "event_type": "*", **posted})
    assert answer.status_code == 400
    assert error in answer.content.decode()
    assert not Preference.objects.filter(user=member).exists()


def _attempts_cell(html: str, delivery: Delivery) -> tuple[str, int]:
    """The Attempts column's number and how many attempts its log lists, for one row."""
    row = re.search(rf'<tr id="delivery-{delivery.pk}">(.*?)</tr>', html, re.S).group(1)
    return re.search(r"<summary>(\d+)", row).group(1), row.count('<li class="attempt')


@pytest.mark.parametrize("role", ROLES)
def test_after_a_redeliver_the_attempts_shown_agree_with_the_log(celery_worker, client_for,
                                                                 rack, receiver, emit, role):
    client = client_for(role)
    endpoint, _ = create_endpoint(client.user, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=400, body=b"no"), Answer(status=200))
    emit("app:create", app="web", name="web")
    delivery = wait_for(lambda: Delivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.FAILED).first())
    page = f"/settings/webhooks/{endpoint.pk}/"
    assert client.post(f"{page}deliveries/{delivery.pk}/redeliver/").status_code == 302
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk,
                                             status=DeliveryStatus.DELIVERED).exists())
    assert _attempts_cell(client.get(page).content.decode(), delivery) == ("2", 2)


def test_the_log_shows_each_attempts_bodies_escaped(celery_worker, client_for, member, receiver):
    client = client_for("member")
    endpoint, secret = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(status=200, body=b"<script>alert(1)</script>"))
    send_test_event(endpoint)
    wait_for(lambda: DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).exists())
    html = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    bodies = re.search(r'<details class="bodies">(.*?)</details>', html, re.S).group(1)
    assert "data-response-body>&lt;script&gt;alert(1)&lt;/script&gt;</pre>" in bodies
    assert "&quot;type&quot;:&quot;webhook:test&quot;" in bodies  # the request, escaped
    assert "<script>alert" not in html
    assert secret.removeprefix("whsec_") not in html


def test_a_test_send_comes_back_to_its_row_and_the_log_follows_it(celery_worker, client_for, member,
                                                                  receiver):
    client = client_for("member")
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    receiver.answer(Answer(delay=1.5))  # still on its way when the page comes back
    page = f"/settings/webhooks/{endpoint.pk}/"
    answer = client.post(page, {"form": "test"})
    delivery = Delivery.objects.get(endpoint=endpoint, notification=None)
    assert answer.status_code == 302 and answer["Location"] == f"{page}#delivery-{delivery.pk}"
    html = client.get(page).content.decode()
    assert f'<tr id="delivery-{delivery.pk}">' in html and "Test event" in html
    # The log says it is on its way, and is re-read (deliveries.js) until it is settled.
    assert "data-refreshing" in html and "/static/console/deliveries.js" in html
    assert f'href="{page}#deliveries">refresh the log</a>' in html  # without the script
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk,
                                             status=DeliveryStatus.DELIVERED).exists())
    html = client.get(page).content.decode()
    assert "data-refreshing" not in html and "refresh the log" not in html
    assert _attempts_cell(html, delivery) == ("1", 1) and ">Delivered<" in html


def test_a_delivery_waiting_for_a_later_retry_is_not_on_its_way(db, client_for, member, receiver):
    client = client_for("member")
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    page = f"/settings/webhooks/{endpoint.pk}/"
    Delivery.objects.create(user=member, channel="webhook", endpoint=endpoint,
                            status=DeliveryStatus.PENDING,
                            next_attempt_at=timezone.now() + timedelta(minutes=30))
    assert "data-refreshing" not in client.get(page).content.decode()
    Delivery.objects.create(user=member, channel="webhook", endpoint=endpoint,
                            status=DeliveryStatus.SENDING, next_attempt_at=timezone.now())
    assert "data-refreshing" in client.get(page).content.decode()


def _types_as_shown(html: str) -> dict[str, str]:
    """The event-type table posted as a browser would: its ticked boxes (a disabled box is
    never sent)."""
    return {"form": "types", **dict.fromkeys(
        re.findall(r'name="([^"]+)" value="on" checked(?! disabled)', html), "on")}


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
def test_without_a_webhook_the_webhook_column_does_not_apply(client_for, role):
    client = client_for(role)
    html = client.get("/settings/notifications/").content.decode()
    # Unticked and disabled, with a hint to add one; email keeps its default.
    assert 'name="build:failed:webhook" value="on" disabled aria-describedby="webhook-hint"' \
        in html
    assert 'name="build:failed:email" value="on" checked' in html
    assert 'href="/settings/webhooks/">add a webhook</a>' in html
    # Saved as it came: nothing is stored, so the defaults still apply once they add one.
    form = _types_as_shown(html)
    assert client.post("/settings/notifications/", form).status_code == 302
    assert not Preference.objects.filter(user=client.user).exists()
    # A change stores what the page shows, never a webhook posted by hand.
    del form["build:failed:email"]
    form["build:failed:webhook"] = "on"
    assert client.post("/settings/notifications/", form).status_code == 302
    rules = Preference.objects.filter(user=client.user).values_list("event_type", "channels")
    assert list(rules) == [("build:failed", ["in_app"])]


def test_with_an_enabled_webhook_the_column_applies_with_its_defaults(client_for, member, receiver):
    client = client_for("member")
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    html = client.get("/settings/notifications/").content.decode()
    assert 'name="build:failed:webhook" value="on" checked aria-label' in html
    assert "add a webhook" not in html
    assert client.post("/settings/notifications/", _types_as_shown(html)).status_code == 302
    assert not Preference.objects.filter(user=member).exists()
    # A disabled webhook sends nothing: the column does not apply again.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    html = client.get("/settings/notifications/").content.decode()
    assert 'name="build:failed:webhook" value="on" disabled' in html and "add a webhook" in html


def test_a_webhook_in_a_rule_of_theirs_survives_a_save_without_a_webhook(client_for, member):
    client = client_for("member")
    set_preference(member, event_type="build:failed", channels=["in_app", "webhook"])
    set_preference(member, event_type="app:create", channels=["in_app"])
    html = client.get("/settings/notifications/").content.decode()
    form = _types_as_shown(html)
    form["app:create:email"] = "on"
    assert client.post("/settings/notifications/", form).status_code == 302
    # Their own rules keep what they said of webhooks (untouched, not dropped); none added.
    assert dict(Preference.objects.filter(user=member).values_list("event_type", "channels")) == {
        "build:failed": ["in_app", "webhook"], "app:create": ["email", "in_app"]}
