"""Credentials: nothing secret is stored as itself, a revoked token stops at once, and
throttling holds back the one who hammers without touching anyone else."""

import json

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]


def database_text() -> str:
    """Every row of every table of the console, as text: what a dump of the database shows."""
    tables = connection.introspection.table_names()
    chunks = []
    with connection.cursor() as cursor:
        for table in tables:
            quoted = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT row_to_json(t)::text FROM {quoted} t")
            else:
                cursor.execute(f"SELECT * FROM {quoted}")
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def test_api_tokens_and_webhook_secrets_are_not_stored_in_plain_text(owner, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": owner.username,
                                                "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content
    key = token.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    hook = client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9999/hook",
                                             "events": ["*"], "format": "standard"},
                       format="json")
    assert hook.status_code == 201, hook.content
    secret = hook.json()["secret"]
    assert secret.startswith("whsec_")
    rotated = client.post(f"/api/v1/webhooks/{hook.json()['id']}/rotate-secret/")
    assert rotated.status_code == 200, rotated.content
    new_secret = rotated.json()["secret"]

    dump = database_text()
    assert key not in dump
    assert secret not in dump and secret.removeprefix("whsec_") not in dump
    assert new_secret.removeprefix("whsec_") not in dump
    # And the secret is not shown again afterwards.
    assert secret not in json.dumps(client.get(f"/api/v1/webhooks/{hook.json()['id']}/").json())


def test_a_revoked_token_is_refused_at_once(owner):
    client = APIClient()
    key = client.post("/api/v1/auth/token/", {"username": owner.username,
                                              "password": PASSWORD}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/racks/").status_code == 200
    listed = client.get("/api/v1/auth/tokens/").json()
    tokens = listed["results"] if isinstance(listed, dict) else listed
    assert len(tokens) == 1 and key not in json.dumps(listed)
    token_id = tokens[0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 204
    assert client.get("/api/v1/racks/").status_code == 401


def test_hammering_the_login_of_one_account_does_not_lock_out_another(owner, outsider):
    guesser = APIClient()
    answers = [guesser.post("/api/v1/auth/token/", {"username": owner.username,
                                                    "password": f"guess-{i}"}, format="json")
               for i in range(40)]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled, [a.status_code for a in answers]
    assert int(throttled[0].headers["Retry-After"]) > 0
    assert {a.status_code for a in answers} <= {400, 401, 429}
    # Someone of another organization, from the same address, logs in as usual.
    other = APIClient().post("/api/v1/auth/token/", {"username": outsider.username,
                                                     "password": PASSWORD}, format="json")
    assert other.status_code == 200, other.content


def test_a_rack_that_floods_its_ingest_url_is_throttled_alone(rack, other_rack, client,
                                                              settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ingest": "20/min"}}
    answers = [client.post(rack.ingest_path, content_type="application/json",
                           data=json.dumps({"action": "app:create",
                                            "data": {"name": f"app{i}"}}))
               for i in range(30)]
    codes = [a.status_code for a in answers]
    assert codes[:20] == [202] * 20 and set(codes[20:]) == {429}
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert "error" in answers[-1].json()
    other = client.post(other_rack.ingest_path, content_type="application/json",
                        data=json.dumps({"action": "app:create", "data": {"name": "web"}}))
    assert other.status_code == 202
