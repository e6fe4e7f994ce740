"""The preferences and webhooks API, as each role and as strangers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.delivery.endpoints import create_endpoint
from notifications.delivery.signing import decrypt_secret
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailDigest,
    Preference,
    WebhookEndpoint,
)
from racks.models import App
from tests.delivery.conftest import ROLES

# -- Preferences ----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_and_replaces_their_preferences(client_for, rack, role):
    client = client_for(role)
    create_endpoint(client.user, url="http://127.0.0.1:9/h", events=["*"])
    App.objects.create(rack=rack, name="noisy")
    answer = client.get("/api/v1/preferences/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["preferences"] == [] and body["email_digest_minutes"] == 0
    kinds = {t["key"]: t for t in body["event_types"]}
    assert kinds["build:failed"]["default_channels"] == ["email", "in_app", "webhook"]
    assert kinds["build:complete"]["default_channels"] == []
    assert kinds["app:create"]["meaning"].startswith("A convox app has been created")
    rules = [
        {"event_type": "build:failed", "channels": ["in_app"]},
        {"event_type": "*", "rack": rack.pk, "app": "noisy", "channels": []},
        {"event_type": "release:deployed", "rack": rack.pk, "channels": ["email", "webhook"]},
    ]
    answer = client.put("/api/v1/preferences/",
                        {"preferences": rules, "email_digest_minutes": 60}, format="json")
    assert answer.status_code == 200, answer.json()
    saved = answer.json()["preferences"]
    assert {(r["event_type"], r["rack"], r["app"], tuple(r["channels"])) for r in saved} == {
        ("build:failed", None, "", ("in_app",)),
        ("*", rack.pk, "noisy", ()),
        ("release:deployed", rack.pk, "", ("email", "webhook")),
    }
    assert EmailDigest.objects.get(user=client.user).window_minutes == 60
    answer = client.put("/api/v1/preferences/", {"preferences": []}, format="json")
    assert answer.json()["preferences"] == [] and not Preference.objects.filter(user=client.user)
    assert answer.json()["email_digest_minutes"] == 60  # untouched when not sent


def test_an_outsider_cannot_name_another_organizations_rack(client_for, outsider, rack):
    answer = client_for(outsider).put("/api/v1/preferences/", {"preferences": [
        {"event_type": "*", "rack": rack.pk, "channels": []}]}, format="json")
    assert answer.status_code == 400
    assert f"no rack {rack.pk} in your organizations" in str(answer.json())
    assert not Preference.objects.exists()


def test_an_override_for_an_app_the_rack_does_not_have_is_refused(client_for, member, rack):
    answer = client_for(member).put("/api/v1/preferences/", {"preferences": [
        {"event_type": "*", "rack": rack.pk, "app": "ghost", "channels": ["email"]}]},
        format="json")
    assert answer.status_code == 400
    assert answer.json() == {"preferences": ["production has no app named ghost."]}
    assert not Preference.objects.exists()


@pytest.mark.parametrize("rules,message", [
    ([{"event_type": "build:nope", "channels": []}], "is not a valid choice"),
    ([{"event_type": "*", "channels": ["sms"]}], "is not a valid choice"),
    ([{"event_type": "*", "app": "web", "channels": []}], "also names its rack"),
    ([{"event_type": "*", "channels": []}, {"event_type": "*", "channels": ["email"]}],
     "Two rules"),
    ("not a list", "Expected a list"),
])
def test_bad_preferences_are_refused_and_change_nothing(client_for, member, rules, message):
    Preference.objects.create(user=member, event_type="*", channels=["in_app"])
    answer = client_for(member).put("/api/v1/preferences/", {"preferences": rules},
                                    format="json")
    assert answer.status_code == 400
    assert message in str(answer.json())
    assert list(Preference.objects.values_list("event_type", "channels")) == [("*", ["in_app"])]


def test_the_webhook_channel_needs_a_webhook_to_send_to(client_for, member):
    client = client_for(member)
    rules = {"preferences": [{"event_type": "build:failed", "channels": ["webhook"]}]}
    answer = client.put("/api/v1/preferences/", rules, format="json")
    assert answer.status_code == 400
    assert "no enabled webhook" in str(answer.json())
    assert not Preference.objects.filter(user=member).exists()
    create_endpoint(member, url="http://127.0.0.1:9/h", events=["*"])
    assert client.put("/api/v1/preferences/", rules, format="json").status_code == 200
    assert Preference.objects.get(user=member).channels == ["webhook"]


def test_anonymous_gets_401(client_for):
    assert client_for("anonymous").get("/api/v1/preferences/").status_code == 401
    assert client_for("anonymous").get("/api/v1/webhooks/").status_code == 401


def test_wrong_method_is_405(client_for, member):
    assert client_for(member).post("/api/v1/preferences/", {}).status_code == 405
    endpoint, _ = create_endpoint(member, url="http://127.0.0.1:9/h", events=["*"])
    assert client_for(member).put(f"/api/v1/webhooks/{endpoint.pk}/", {}).status_code == 405


# -- Webhooks -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_each_role_manages_their_own_webhooks(client_for, role, receiver):
    client = client_for(role)
    answer = client.post("/api/v1/webhooks/", {"url": receiver.url, "events": ["build:failed"],
                                               "format": "slack"}, format="json")
    assert answer.status_code == 201, answer.json()
    created = answer.json()
    assert created["secret"].startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(pk=created["id"], user=client.user)
    assert decrypt_secret(endpoint.secret_encrypted) == created["secret"]
    listed = client.get("/api/v1/webhooks/").json()
    assert [e["id"] for e in listed] == [endpoint.pk]
    assert "secret" not in listed[0]  # shown once only
    detail = client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert detail["format"] == "slack" and "secret" not in detail
    answer = client.patch(f"/api/v1/webhooks/{endpoint.pk}/",
                          {"events": ["*"], "enabled": False}, format="json")
    assert answer.status_code == 200 and answer.json()["enabled"] is False
    endpoint.refresh_from_db()
    assert endpoint.events == ["*"] and endpoint.disabled_reason == "Disabled by its owner."
    answer = client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": True}, format="json")
    assert answer.json()["enabled"] is True and answer.json()["disabled_reason"] == ""
    assert client.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_another_users_webhook_is_404_everywhere(client_for, member, outsider, admin, receiver):
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    delivery = Delivery.objects.create(user=member, channel="webhook", endpoint=endpoint,
                                       status=DeliveryStatus.FAILED)
    base = f"/api/v1/webhooks/{endpoint.pk}/"
    for stranger in (outsider, admin):  # an admin of the same organization is no owner
        client = client_for(stranger)
        assert client.get(base).status_code == 404
        assert client.patch(base, {"enabled": False}, format="json").status_code == 404
        assert client.delete(base).status_code == 404
        assert client.post(base + "rotate-secret/").status_code == 404
        assert client.post(base + "test/").status_code == 404
        assert client.get(base + "deliveries/").status_code == 404
        assert client.post(base + f"deliveries/{delivery.pk}/redeliver/").status_code == 404
        assert client.post(base + "recover/", {"since": "2020-01-01T00:00:00Z"},
                           format="json").status_code == 404
        assert client.get("/api/v1/webhooks/").json() == []
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert client_for(member).get("/api/v1/webhooks/abc/").status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"url": "ftp://127.0.0.1/x", "events": ["*"]}, "url"),
    ({"url": "not a url", "events": ["*"]}, "url"),
    ({"url": "http://127.0.0.1:9/h", "events": []}, "events"),
    ({"url": "http://127.0.0.1:9/h", "events": ["app:nope"]}, "events"),
    ({"url": "http://127.0.0.1:9/h", "events": ["*"], "format": "teams"}, "format"),
    ({"events": ["*"]}, "url"),
])
def test_bad_webhooks_are_refused(client_for, member, body, field):
    answer = client_for(member).post("/api/v1/webhooks/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_the_secret_answers_the_new_one_once(client_for, member, receiver):
    endpoint, old = create_endpoint(member, url=receiver.url, events=["*"])
    answer = client_for(member).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert answer.status_code == 200
    new = answer.json()["secret"]
    endpoint.refresh_from_db()
    assert decrypt_secret(endpoint.secret_encrypted) == new
    assert decrypt_secret(endpoint.previous_secret_encrypted) == old
    overlap = endpoint.previous_secret_until - timezone.now()
    assert timedelta(hours=23) < overlap <= timedelta(hours=24)


def test_test_event_redeliver_and_recover(client_for, member, rack, receiver, emit):
    client = client_for(member)
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/test/")
    assert answer.status_code == 202 and answer.json()["message"] == "Test event"
    emit("app:create", app="web", name="web")
    emit("app:delete", app="web", name="web")
    Delivery.objects.filter(endpoint=endpoint).update(status=DeliveryStatus.FAILED, attempts=5)
    listed = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()
    assert [d["message"] for d in listed["results"]] == [
        "[production] Deleted app web", "[production] Created app web", "Test event"]
    assert listed["next"] is None
    # Each attempt in the log carries the bodies it sent and got back, beside what it had.
    test_delivery = Delivery.objects.get(endpoint=endpoint, notification=None)
    DeliveryAttempt.objects.create(delivery=test_delivery, started_at=timezone.now(),
                                   status_code=500, error="The receiver answered 500",
                                   request_body='{"type":"webhook:test"}', response_body="no")
    [shown] = [d for d in client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()[
        "results"] if d["id"] == test_delivery.pk]
    assert set(shown) >= {"id", "webhook_id", "notification", "message", "status", "attempts",
                          "next_attempt_at", "last_status_code", "last_error", "delivered_at",
                          "created_at", "attempt_log"}
    assert shown["attempt_log"] == [{
        "started_at": shown["attempt_log"][0]["started_at"], "duration_ms": 0,
        "status_code": 500, "succeeded": False, "error": "The receiver answered 500",
        "request_body": '{"type":"webhook:test"}', "response_body": "no"}]
    failed = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=failed").json()
    assert len(failed["results"]) == 3
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=nope"
                      ).status_code == 400
    one = listed["results"][0]
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{one['id']}/redeliver/")
    assert answer.status_code == 202
    # The count goes on: the log keeps every attempt, and the count agrees with it.
    assert answer.json()["status"] == "pending" and answer.json()["attempts"] == 5
    assert answer.json()["webhook_id"] == one["webhook_id"]
    Delivery.objects.filter(pk=one["id"]).update(status=DeliveryStatus.SENDING)
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{one['id']}/redeliver/")
    assert answer.status_code == 409 and "being sent" in answer.json()["error"]
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/recover/", {"since": since},
                         format="json")
    assert answer.status_code == 202 and answer.json() == {"requeued": 2}
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).count() == 2
    future = (timezone.now() + timedelta(days=1)).isoformat()
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/recover/", {"since": future},
                         format="json")
    assert answer.status_code == 400
    assert client.post(f"/api/v1/webhooks/{endpoint.pk}/recover/", {},
                       format="json").status_code == 400


def test_the_schema_documents_preferences_and_webhooks(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in ("/api/v1/preferences/", "/api/v1/webhooks/", "/api/v1/webhooks/{id}/",
                 "/api/v1/webhooks/{id}/deliveries/",
                 "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver/",
                 "/api/v1/webhooks/{id}/rotate-secret/", "/api/v1/webhooks/{id}/recover/",
                 "/api/v1/webhooks/{id}/test/"):
        assert path in paths, path
    assert set(paths["/api/v1/preferences/"]) == {"get", "put"}
    created = paths["/api/v1/webhooks/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "secret" in schema["components"]["schemas"][ref]["properties"]


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}


def test_test_events_are_throttled_per_endpoint(client_for, member, receiver, settings):
    _rates(settings, webhook_test="3/min", webhook_test_user="100/hour")
    client = client_for(member)
    endpoint, _ = create_endpoint(member, url=receiver.url, events=["*"])
    other, _ = create_endpoint(member, url=receiver.url, events=["*"])
    answers = [client.post(f"/api/v1/webhooks/{endpoint.pk}/test/") for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert "limited to 3 a minute" in answers[-1].json()["error"]
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3
    assert client.post(f"/api/v1/webhooks/{other.pk}/test/").status_code == 202


def test_test_events_are_throttled_per_user_across_endpoints(client_for, member, owner,
                                                             receiver, settings):
    _rates(settings, webhook_test="100/min", webhook_test_user="4/hour")
    client = client_for(member)
    endpoints = [create_endpoint(member, url=receiver.url, events=["*"])[0]
                 for _ in range(5)]
    codes = [client.post(f"/api/v1/webhooks/{e.pk}/test/").status_code for e in endpoints]
    assert codes == [202, 202, 202, 202, 429]
    # Another user is not slowed down by this one.
    theirs, _ = create_endpoint(owner, url=receiver.url, events=["*"])
    assert client_for(owner).post(f"/api/v1/webhooks/{theirs.pk}/test/").status_code == 202
