"""Every list of racks and what runs on them comes in pages, in the feed's cursor style."""

import pytest
from rest_framework.test import APIClient

from racks.local import LocalRack
from racks.models import App, Rack, Resource


def walk(client: APIClient, url: str) -> list[dict]:
    """Every item of a list, following `next` from the first page to the last."""
    items: list[dict] = []
    pages = 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"results", "next", "previous"}
        items += body["results"]
        url = body["next"]
        pages += 1
        assert pages < 50, "the pages never end"
    return items


@pytest.fixture
def many_apps(rack) -> list[str]:
    names = [f"app-{n:02d}" for n in range(7)]
    App.objects.bulk_create(App(rack=rack, name=name) for name in reversed(names))
    return names


def test_racks_come_in_pages_of_the_asked_size_without_repeats(owner, org, rack, client_for):
    more = [Rack.objects.create(organization=org, name=f"rack-{n}") for n in range(4)]
    client = client_for(owner)
    first = client.get("/api/v1/racks/?limit=2").json()
    assert [r["name"] for r in first["results"]] == ["production", "rack-0"]
    assert first["previous"] is None and "cursor=" in first["next"]
    names = [r["name"] for r in walk(client, "/api/v1/racks/?limit=2")]
    assert names == ["production"] + [r.name for r in more]


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_apps_come_by_name_in_pages_for_every_member(people, client_for, rack, many_apps, role):
    names = [a["name"] for a in walk(client_for(role), f"/api/v1/racks/{rack.pk}/apps/?limit=3")]
    assert names == many_apps


def test_an_outsider_pages_nothing_of_another_organizations_apps(outsider, rack, many_apps,
                                                                client_for):
    response = client_for(outsider).get(f"/api/v1/racks/{rack.pk}/apps/?limit=3")
    assert response.status_code == 404


def test_resources_come_by_name_in_pages(member, rack, client_for):
    Resource.objects.bulk_create(Resource(rack=rack, name=f"db-{n}", type="postgres")
                                 for n in (3, 1, 2, 0))
    names = [r["name"] for r in walk(client_for(member),
                                     f"/api/v1/racks/{rack.pk}/resources/?limit=3")]
    assert names == ["db-0", "db-1", "db-2", "db-3"]


def test_releases_come_newest_first_in_pages(member, rack, client_for):
    app = LocalRack().create_app(rack, "web")
    made = [LocalRack().set_env(app, {"N": str(n)}).id for n in range(5)]
    ids = [r["id"] for r in walk(client_for(member),
                                 f"/api/v1/racks/{rack.pk}/apps/web/releases/?limit=2")]
    assert ids == list(reversed(made))


def test_a_limit_past_the_maximum_is_the_maximum(member, rack, client_for):
    App.objects.bulk_create(App(rack=rack, name=f"a{n:03d}") for n in range(205))
    body = client_for(member).get(f"/api/v1/racks/{rack.pk}/apps/?limit=1000").json()
    assert len(body["results"]) == 200 and body["next"]


def test_a_cursor_that_cannot_be_read_is_a_404_not_an_error(member, rack, client_for):
    response = client_for(member).get(f"/api/v1/racks/{rack.pk}/apps/?cursor=not-a-cursor")
    assert response.status_code == 404


@pytest.mark.parametrize("path, page", [
    ("/api/v1/racks/", "RackPage"),
    ("/api/v1/racks/{rack_id}/apps/", "AppPage"),
    ("/api/v1/racks/{rack_id}/resources/", "ResourcePage"),
    ("/api/v1/racks/{rack_id}/apps/{app}/builds/", "BuildPage"),
    ("/api/v1/racks/{rack_id}/apps/{app}/releases/", "ReleasePage"),
])
def test_the_schema_shows_each_list_as_a_page_with_its_cursor(db, path, page):
    document = APIClient().get("/api/schema/",
                               HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listing = document["paths"][path]["get"]
    assert listing["operationId"].endswith("_list")  # a list, not a retrieve, for clients
    assert {"cursor", "limit"} <= {p["name"] for p in listing["parameters"]}
    ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/" + page)
    shape = document["components"]["schemas"][page]["properties"]
    assert set(shape) == {"next", "previous", "results"}
