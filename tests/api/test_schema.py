"""The OpenAPI document and the docs page people read it on."""

import pytest
from rest_framework.test import APIClient

CONTRACT_PATHS = [
    "/api/v1/auth/token/", "/api/v1/auth/tokens/", "/api/v1/auth/tokens/{token_id}/",
    "/api/v1/auth/register/", "/api/v1/organizations/", "/api/v1/organizations/{slug}/",
    "/api/v1/organizations/{slug}/members/",
    "/api/v1/organizations/{slug}/members/{username}/",
    "/api/v1/organizations/{slug}/invitations/",
    "/api/v1/organizations/{slug}/invitations/{invitation_id}/",
    "/api/v1/invitations/", "/api/v1/invitations/{invitation_id}/accept/",
    "/api/v1/invitations/{invitation_id}/decline/",
    "/api/v1/racks/", "/api/v1/racks/{rack_id}/", "/api/v1/racks/{rack_id}/apps/",
    "/api/v1/racks/{rack_id}/apps/{app}/", "/api/v1/racks/{rack_id}/apps/{app}/builds/",
    "/api/v1/racks/{rack_id}/apps/{app}/releases/",
    "/api/v1/racks/{rack_id}/apps/{app}/releases/{release_id}/promote/",
    "/api/v1/racks/{rack_id}/apps/{app}/scale/", "/api/v1/racks/{rack_id}/resources/",
    "/api/v1/notifications/", "/api/v1/notifications/{id}/",
    "/api/v1/notifications/{id}/read/", "/api/v1/notifications/{id}/unread/",
    "/api/v1/notifications/read-all/", "/api/v1/notifications/unread-count/",
    "/ingest/{token}/",
]


@pytest.fixture
def document(db) -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_lists_every_contract_path(document):
    missing = [p for p in CONTRACT_PATHS if p not in document["paths"]]
    assert missing == []


def test_the_schema_documents_token_auth_and_error_answers(document):
    assert document["components"]["securitySchemes"]["knoxApiToken"]["name"] == "Authorization"
    racks = document["paths"]["/api/v1/racks/{rack_id}/"]
    assert {"200", "401", "403", "404"} <= set(racks["patch"]["responses"])
    token = document["paths"]["/api/v1/auth/token/"]["post"]
    assert "429" in token["responses"] and token["security"] == [{}]


def test_the_feed_is_documented_with_its_item_filters_and_cursor(document):
    feed = document["paths"]["/api/v1/notifications/"]["get"]
    names = {p["name"] for p in feed["parameters"]}
    assert {"rack", "app", "action", "status", "unread", "cursor"} <= names
    page = feed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page_schema = document["components"]["schemas"][page.rsplit("/", 1)[1]]
    assert {"next", "results"} <= set(page_schema["properties"])
    item = document["components"]["schemas"]["NotificationItem"]["properties"]
    assert {"id", "message", "action", "status", "rack", "app", "data", "created_at",
            "read"} <= set(item)


def test_the_ingest_url_is_documented(document):
    ingest = document["paths"]["/ingest/{token}/"]["post"]
    assert {"202", "400", "401", "404", "413", "429"} <= set(ingest["responses"])
    headers = {p["name"] for p in ingest["parameters"] if p["in"] == "header"}
    assert headers == {"Convox-Signature", "Idempotency-Key"}
    assert "RackEvent" in document["components"]["schemas"]


def test_rack_representation_documents_the_ingest_url_and_never_the_key(document):
    rack = document["components"]["schemas"]["Rack"]["properties"]
    assert "ingest_url" in rack and "signed" in rack and "webhook_signing_key" not in rack
    patch = document["components"]["schemas"]["PatchedRackUpdateRequest"]["properties"]
    assert "webhook_signing_key" in patch


def test_the_docs_page_and_its_assets_are_served_without_a_cdn(db):
    client = APIClient()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_an_unknown_api_path_is_a_json_404(db):
    response = APIClient().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
