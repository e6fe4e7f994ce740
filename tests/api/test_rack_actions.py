"""Apps, builds, releases, scale and resources on a rack, by role, through the rack's driver."""

import pytest

from notifications.models import Notification
from racks.local import LocalRack
from racks.models import App, Build, BuildStatus, Formation, Release, Resource
from tests.helpers import wait_for

ROLES = ["owner", "admin", "member", "viewer", "outsider", "anonymous"]
READERS = {"owner": 200, "admin": 200, "member": 200, "viewer": 200, "outsider": 404,
           "anonymous": 401}


def acting(success: int) -> dict[str, int]:
    return {"owner": success, "admin": success, "member": success, "viewer": 403,
            "outsider": 404, "anonymous": 401}


@pytest.fixture
def app(rack) -> App:
    return LocalRack().create_app(rack, "demo")


@pytest.fixture
def release(app) -> Release:
    return LocalRack().set_env(app, {"GREETING": "hello"})


@pytest.fixture
def live_app(app, release) -> App:
    LocalRack().promote(release)
    return app


# Apps


@pytest.mark.parametrize("role", ROLES)
def test_listing_apps_by_role(people, client_for, rack, app, role):
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert [a["name"] for a in response.json()["results"]] == ["demo"]


@pytest.mark.parametrize("role", ROLES)
def test_creating_an_app_by_role(people, client_for, rack, role):
    response = client_for(role).post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "shop"},
                                  format="json")
    assert response.status_code == acting(201)[role]
    created = response.status_code == 201
    assert App.objects.filter(rack=rack, name="shop").exists() == created
    assert Notification.objects.filter(message="[production] Created app shop").exists() == \
        created


@pytest.mark.parametrize("role", ROLES)
def test_app_detail_by_role(people, client_for, rack, live_app, release, role):
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/demo/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert response.json()["release"] == release.pk


@pytest.mark.parametrize("role", ROLES)
def test_deleting_an_app_by_role(people, client_for, rack, app, role):
    response = client_for(role).delete(f"/api/v1/racks/{rack.pk}/apps/demo/")
    assert response.status_code == acting(204)[role]
    assert App.objects.filter(pk=app.pk).exists() == (response.status_code != 204)


def test_an_app_name_taken_or_malformed_is_a_clear_400(owner, rack, app, client_for):
    client = client_for(owner)
    taken = client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "demo"}, format="json")
    assert taken.status_code == 400
    assert taken.json() == {"error": "An app named demo already exists on production."}
    bad = client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "Demo!"}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()


def test_apps_of_another_organization_are_404(owner, other_rack, client_for):
    LocalRack().create_app(other_rack, "theirs")
    client = client_for(owner)
    assert client.get(f"/api/v1/racks/{other_rack.pk}/apps/").status_code == 404
    assert client.delete(f"/api/v1/racks/{other_rack.pk}/apps/theirs/").status_code == 404
    assert client.post(f"/api/v1/racks/{other_rack.pk}/apps/", {"name": "x"},
                       format="json").status_code == 404


def test_a_missing_app_is_404(owner, rack, client_for):
    assert client_for(owner).get(f"/api/v1/racks/{rack.pk}/apps/ghost/").status_code == 404


# Builds


@pytest.mark.parametrize("role", ROLES)
def test_starting_a_build_by_role(people, client_for, rack, app, role):
    response = client_for(role).post(f"/api/v1/racks/{rack.pk}/apps/demo/builds/",
                                  {"description": "v2"}, format="json")
    assert response.status_code == acting(201)[role]
    assert Build.objects.filter(app=app).exists() == (response.status_code == 201)
    if response.status_code == 201:
        assert response.json()["status"] == "created"


@pytest.mark.parametrize("role", ROLES)
def test_listing_builds_by_role(people, client_for, rack, app, role):
    LocalRack().start_build(app, description="first")
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/demo/builds/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        (build,) = response.json()["results"]
        assert build["description"] == "first" and "logs" in build


def test_builds_page_newest_first(owner, rack, app, client_for):
    for n in range(25):
        LocalRack().start_build(app, description=f"build {n}")
    client = client_for(owner)
    first = client.get(f"/api/v1/racks/{rack.pk}/apps/demo/builds/").json()
    second = client.get(first["next"]).json()
    descriptions = [b["description"] for b in first["results"] + second["results"]]
    assert len(descriptions) == 25 and len(set(descriptions)) == 25
    assert second["next"] is None


def test_build_detail_and_bad_build_input(owner, viewer, outsider, rack, app, client_for):
    build = LocalRack().start_build(app)
    url = f"/api/v1/racks/{rack.pk}/apps/demo/builds/{build.pk}/"
    assert client_for(viewer).get(url).json()["id"] == build.pk
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(owner).get(
        f"/api/v1/racks/{rack.pk}/apps/demo/builds/BAAAAAAAAAA/").status_code == 404
    too_long = client_for(owner).post(f"/api/v1/racks/{rack.pk}/apps/demo/builds/",
                                      {"description": "x" * 201}, format="json")
    assert too_long.status_code == 400
    assert client_for(owner).post(f"/api/v1/racks/{rack.pk}/apps/demo/builds/",
                                  {"fail": "perhaps"}, format="json").status_code == 400


# Releases


@pytest.mark.parametrize("role", ROLES)
def test_listing_releases_by_role(people, client_for, rack, release, role):
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/demo/releases/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        (listed,) = response.json()["results"]
        shown = None if role == "viewer" else "hello"  # viewers read names, not values
        assert listed["env"] == {"GREETING": shown} and listed["active"] is False


@pytest.mark.parametrize("role", ROLES)
def test_changing_the_environment_by_role(people, client_for, rack, app, role):
    response = client_for(role).post(f"/api/v1/racks/{rack.pk}/apps/demo/releases/",
                                  {"env": {"MODE": "fast"}}, format="json")
    assert response.status_code == acting(201)[role]
    if response.status_code == 201:
        release = Release.objects.get(pk=response.json()["id"])
        assert release.env == {"MODE": "fast"}
        assert Notification.objects.filter(
            message=f"[production] Created release {release.pk} for app demo").exists()
    else:
        assert not Release.objects.exists()


@pytest.mark.parametrize("env, reason", [
    ({"MODE": 5}, "must be a string"), ({"1BAD": "x"}, "variable name"),
    ({"MODE": "a\u0000b"}, "NUL"), (["MODE=fast"], "object of names"),
    ({"MODE": "x" * 10_001}, "at most 10000"), (None, "object of names"),
    ({"MODE\n": "x"}, "variable name"), ({f"V{i}": "x" for i in range(201)}, "At most 200"),
    # A rack keeps NAME=value lines: a line break would make a second variable.
    ({"MODE": "fast\nDEBUG=1"}, "one line"), ({"MODE": "fast\u2028"}, "one line"),
])
def test_a_bad_environment_is_refused(owner, rack, app, client_for, env, reason):
    response = client_for(owner).post(f"/api/v1/racks/{rack.pk}/apps/demo/releases/",
                                      {"env": env}, format="json")
    assert response.status_code == 400
    assert reason in str(response.json())
    assert not Release.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_promoting_a_release_by_role(people, client_for, rack, release, role):
    response = client_for(role).post(
        f"/api/v1/racks/{rack.pk}/apps/demo/releases/{release.pk}/promote/")
    assert response.status_code == acting(200)[role]
    release.refresh_from_db()
    assert release.active == (response.status_code == 200)


def test_promoting_the_live_release_again_is_a_clear_400(owner, rack, live_app, release,
                                                         client_for):
    response = client_for(owner).post(
        f"/api/v1/racks/{rack.pk}/apps/demo/releases/{release.pk}/promote/")
    assert response.status_code == 400
    assert "already the live release" in response.json()["error"]


def test_release_detail(viewer, outsider, rack, release, client_for):
    url = f"/api/v1/racks/{rack.pk}/apps/demo/releases/{release.pk}/"
    assert client_for(viewer).get(url).json()["id"] == release.pk
    assert client_for(outsider).get(url).status_code == 404


# Scale


@pytest.mark.parametrize("role", ROLES)
def test_scaling_by_role(people, client_for, rack, live_app, role):
    response = client_for(role).post(f"/api/v1/racks/{rack.pk}/apps/demo/scale/",
                                  {"process": "web", "count": 4}, format="json")
    assert response.status_code == acting(200)[role]
    scaled = Formation.objects.filter(app=live_app, process="web", count=4).exists()
    assert scaled == (response.status_code == 200)
    if scaled:
        assert response.json() == [{"process": "web", "count": 4, "cpu": 256, "memory": 512}]


@pytest.mark.parametrize("role", ROLES)
def test_reading_the_formation_by_role(people, client_for, rack, live_app, role):
    Formation.objects.create(app=live_app, process="web", count=2)
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/apps/demo/scale/")
    assert response.status_code == READERS[role]


def test_scaling_an_app_without_a_live_release_is_a_clear_400(owner, rack, app, client_for):
    response = client_for(owner).post(f"/api/v1/racks/{rack.pk}/apps/demo/scale/",
                                      {"process": "web", "count": 2}, format="json")
    assert response.status_code == 400
    assert "no live release" in response.json()["error"]


@pytest.mark.parametrize("body", [{"process": "web", "count": 101},
                                  {"process": "web", "count": -1},
                                  {"process": "Web", "count": 1}, {"count": 1}])
def test_bad_scale_input_is_refused(owner, rack, live_app, client_for, body):
    response = client_for(owner).post(f"/api/v1/racks/{rack.pk}/apps/demo/scale/", body,
                                      format="json")
    assert response.status_code == 400
    assert not Formation.objects.exists()


# Resources


@pytest.mark.parametrize("role", ROLES)
def test_listing_resources_by_role(people, client_for, rack, role):
    LocalRack().create_resource(rack, "db", "postgres")
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/resources/")
    assert response.status_code == READERS[role]
    if response.status_code == 200:
        assert [(r["name"], r["type"]) for r in response.json()["results"]] == [("db", "postgres")]


@pytest.mark.parametrize("role", ROLES)
def test_creating_a_resource_by_role(people, client_for, rack, role):
    response = client_for(role).post(f"/api/v1/racks/{rack.pk}/resources/",
                                  {"name": "cache", "type": "redis"}, format="json")
    assert response.status_code == acting(201)[role]
    assert Resource.objects.filter(rack=rack).exists() == (response.status_code == 201)


@pytest.mark.parametrize("role", ROLES)
def test_resource_detail_by_role(people, client_for, rack, role):
    LocalRack().create_resource(rack, "db", "postgres")
    response = client_for(role).get(f"/api/v1/racks/{rack.pk}/resources/db/")
    assert response.status_code == READERS[role]


@pytest.mark.parametrize("role", ROLES)
def test_deleting_a_resource_by_role(people, client_for, rack, role):
    LocalRack().create_resource(rack, "db", "postgres")
    response = client_for(role).delete(f"/api/v1/racks/{rack.pk}/resources/db/")
    assert response.status_code == acting(204)[role]
    assert Resource.objects.filter(rack=rack).exists() == (response.status_code != 204)
    if response.status_code == 204:
        assert Notification.objects.filter(
            message="[production] Deleted postgres resource db").exists()


@pytest.mark.parametrize("body, reason", [
    ({"name": "db", "type": "oracle"}, "not a valid choice"),
    ({"name": "DB", "type": "redis"}, "Lower-case"),
    ({"name": "db", "type": "redis"}, "already exists on production"),
])
def test_bad_resource_input_is_refused(owner, rack, client_for, body, reason):
    LocalRack().create_resource(rack, "db", "postgres")
    response = client_for(owner).post(f"/api/v1/racks/{rack.pk}/resources/", body,
                                      format="json")
    assert response.status_code == 400
    assert reason in str(response.json())
    assert Resource.objects.count() == 1


# The whole story, with a real worker


@pytest.mark.django_db(transaction=True)
def test_a_member_builds_promotes_and_scales_and_sees_it_all_in_the_feed(
        member, rack, client_for, celery_worker):
    client = client_for(member)
    base = f"/api/v1/racks/{rack.pk}/apps/"
    assert client.post(base, {"name": "demo"}, format="json").status_code == 201
    build = client.post(base + "demo/builds/", {}, format="json").json()
    done = wait_for(lambda: Build.objects.filter(
        pk=build["id"], status=BuildStatus.COMPLETE).first(), timeout=20)
    listed = client.get(base + "demo/builds/").json()["results"][0]
    assert listed["status"] == "complete" and "Build complete" in listed["logs"]

    release = Release.objects.get(build=done)
    promoted = client.post(base + f"demo/releases/{release.pk}/promote/")
    assert promoted.status_code == 200 and promoted.json()["active"] is True
    deployed = f"[production] Finished rolling deploy of release {release.pk} for app demo"
    wait_for(lambda: Notification.objects.filter(message=deployed).exists(), timeout=20)
    assert client.post(base + "demo/scale/", {"process": "web", "count": 3},
                       format="json").status_code == 200

    messages = [n["message"] for n in client.get("/api/v1/notifications/").json()["results"]]
    assert messages[0] == f"[production] Scaled release {release.pk} for app demo"
    assert deployed in messages
    assert f"[production] Promoted release {release.pk} for app demo" in messages
    assert "[production] Created app demo" in messages


@pytest.mark.django_db(transaction=True)
def test_a_failing_build_asked_for_through_the_api_fails(owner, rack, client_for,
                                                         celery_worker):
    client = client_for(owner)
    client.post(f"/api/v1/racks/{rack.pk}/apps/", {"name": "demo"}, format="json")
    build = client.post(f"/api/v1/racks/{rack.pk}/apps/demo/builds/", {"fail": True},
                        format="json").json()
    wait_for(lambda: Build.objects.filter(pk=build["id"], status=BuildStatus.FAILED).exists(),
             timeout=20)
    failed = f"[production] Build {build['id']} failed for app demo"
    wait_for(lambda: Notification.objects.filter(message=failed).exists(), timeout=10)


def test_an_environment_edited_from_an_older_release_is_a_clear_400(owner, rack, app,
                                                                   client_for):
    client = client_for(owner)
    base = f"/api/v1/racks/{rack.pk}/apps/demo/releases/"
    first = client.post(base, {"env": {"MODE": "fast"}, "based_on": ""}, format="json")
    assert first.status_code == 201, first.content
    second = client.post(base, {"env": {"MODE": "slow"}, "based_on": first.json()["id"]},
                         format="json")
    assert second.status_code == 201
    stale = client.post(base, {"env": {"MODE": "mine"}, "based_on": first.json()["id"]},
                        format="json")
    assert stale.status_code == 400
    assert f"was changed (release {second.json()['id']})" in stale.json()["error"]
    assert Release.objects.count() == 2
    for bad in (5, "R" * 21):
        refused = client.post(base, {"env": {"MODE": "x"}, "based_on": bad}, format="json")
        assert refused.status_code == 400 and "based_on" in refused.json()
