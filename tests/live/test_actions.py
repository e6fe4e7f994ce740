"""The buttons that act on the local rack: members act, viewers cannot, outsiders see nothing."""

import re
from html import escape

import pytest

from notifications.models import Notification
from racks.local import LocalRack
from racks.models import App, Build, Formation, Rack, Release, Resource
from tests.helpers import wait_for


@pytest.fixture
def demo(rack) -> App:
    app = LocalRack().create_app(rack, "demo")
    LocalRack().set_env(app, {"A": "1"})
    return app


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def actions(rack: Rack) -> list[tuple[str, dict]]:
    app = f"/racks/{rack.pk}/apps/demo/"
    release = Release.objects.get(app__name="demo")
    return [
        (f"/racks/{rack.pk}/apps/", {"name": "another"}),
        (app + "builds/", {"description": "first"}),
        (app + "env/", {"env": "A=2"}),
        (app + f"releases/{release.id}/promote/", {}),
        (app + "scale/", {"process": "web", "count": "2"}),
        (f"/racks/{rack.pk}/resources/", {"name": "db", "type": "postgres"}),
        (app + "delete/", {}),
    ]


def state(rack: Rack) -> tuple:
    return (App.objects.count(), Build.objects.count(), Release.objects.count(),
            Release.objects.filter(active=True).count(), Formation.objects.count(),
            Resource.objects.count(), Notification.objects.count(),
            Rack.objects.values_list("version", "instance_count").get(pk=rack.pk))


@pytest.mark.parametrize("who", ["owner", "admin", "member"])
def test_acting_roles_use_every_button(client_for, who, rack, demo):
    client = client_for(who)
    for url, data in actions(rack):
        before = state(rack)
        response = client.post(url, data, follow=True)
        assert response.status_code == 200, url
        assert not [m for m in response.context["messages"] if m.level_tag == "error"], url
        assert state(rack) != before, url
    assert not App.objects.filter(name="demo").exists()


def test_a_viewer_gets_403_and_nothing_changes(client_for, viewer, rack, demo):
    client = client_for("viewer")
    for url, data in [*actions(rack), (f"/racks/{rack.pk}/update/", {"count": "5"}),
                      (f"/racks/{rack.pk}/resources/db/delete/", {})]:
        before = state(rack)
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert b"you are a viewer" in response.content, url
        assert state(rack) == before, url


def test_an_outsider_gets_404_and_nothing_changes(client_for, outsider, rack, demo):
    client = client_for("outsider")
    for url, data in [*actions(rack), (f"/racks/{rack.pk}/update/", {"count": "5"})]:
        before = state(rack)
        assert client.post(url, data).status_code == 404, url
        assert state(rack) == before, url


def test_anonymous_is_sent_to_log_in(client_for, rack, demo):
    for url, data in actions(rack):
        response = client_for("anonymous").post(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response.url


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_managers_update_the_rack(client_for, who, rack):
    response = client_for(who).post(f"/racks/{rack.pk}/update/",
                             {"version": "3.25.0", "count": "5", "instance_type": "t3.large"},
                             follow=True)
    assert messages_of(response) == ["Asked production to update."]
    rack.refresh_from_db()
    assert (rack.version, rack.instance_count, rack.instance_type) == ("3.25.0", 5, "t3.large")
    assert Notification.objects.filter(action="rack:update").get().message == (
        "[production] Updating rack to: version 3.25.0, count 5, instance type t3.large")


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_the_update_form_sent_as_it_came_is_refused(client_for, who, rack):
    client = client_for(who)
    form = client.get(f"/racks/{rack.pk}/").context["update_form"]
    sent = {name: form[name].value() for name in ("version", "count", "instance_type")}
    assert sent == {"version": "3.24.6", "count": 3, "instance_type": "t3.small"}
    response = client.post(f"/racks/{rack.pk}/update/", sent)
    assert response.status_code == 400
    assert form_errors(response.content.decode()) == (
        "Nothing to update: the version, count and instance type are what the rack has.")
    assert not messages_of(response)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_may_not_update_the_rack_even_to_the_same(client_for, who, rack):
    response = client_for(who).post(f"/racks/{rack.pk}/update/", {
        "version": "3.24.6", "count": "3", "instance_type": "t3.small"})
    assert response.status_code == 403
    assert not Notification.objects.exists()


def test_a_member_may_not_update_the_rack(client_for, member, rack):
    response = client_for("member").post(f"/racks/{rack.pk}/update/", {"count": "5"})
    assert response.status_code == 403 and b"Only owners and admins" in response.content


def error_beside(html: str, field_id: str) -> str:
    """The error list Django ties to a field (aria-describedby), or "" when none."""
    found = re.search(rf'<ul class="errorlist" id="{field_id}_error">(.*?)</ul>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


def form_errors(html: str) -> str:
    """Errors atop a form (not of one field)."""
    found = re.findall(r'<ul class="errorlist nonfield">(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", f) for f in found)


@pytest.mark.parametrize("url_tail,data,field_id,message", [
    ("apps/", {"name": "demo"}, "app-name", "An app named demo already exists on production."),
    ("apps/", {"name": "Bad Name"}, "app-name", "The app name must be lower-case"),
    ("apps/", {}, "app-name", "This field is required."),
    ("apps/demo/scale/", {"process": "web", "count": "2"}, None,
     "demo has no live release yet: promote one before scaling."),
    ("apps/demo/scale/", {"process": "web", "count": "5000"}, "scale-count",
     "Ensure this value"),
    ("apps/demo/scale/", {"process": "web", "count": "500"}, "scale-count",
     "A process runs between 0 and 100 copies."),
    ("apps/demo/env/", {"env": "no equals sign"}, "env-env", "Line 1 is not NAME=value."),
    ("resources/", {"name": "db", "type": "oracle"}, "resource-type", "Select a valid choice."),
    ("update/", {"count": "0"}, "update-count",
     "Ensure this value is greater than or equal to 1."),
    ("update/", {}, None, "Give a version, an instance count or an instance type to change."),
    ("update/", {"version": "<b>3</b>"}, "update-version", "A version is letters, digits"),
    ("update/", {"instance_type": "t3.日本"}, "update-instance_type",
     "An instance type is letters, digits"),
])
def test_a_refusal_is_shown_beside_its_field_with_the_input_kept(
        client_for, owner, rack, demo, url_tail, data, field_id, message):
    before = state(rack)
    response = client_for("owner").post(f"/racks/{rack.pk}/{url_tail}", data)
    assert response.status_code == 400
    html = response.content.decode()
    shown = error_beside(html, field_id) if field_id else form_errors(html)
    assert shown.startswith(message), html
    assert not messages_of(response)
    for name, value in data.items():
        if name != "type":
            assert escape(value) in html, f"{value} was not kept"
    assert state(rack) == before


BAD_NAME = ("A variable name is letters, digits and underscores, not starting with a "
            "digit (at most 100).")


@pytest.mark.parametrize("env,message", [
    ("1BAD=x", BAD_NAME),
    ("MY-VAR=x", BAD_NAME),
    ("GOOD=1\nWITH SPACE=2", BAD_NAME),
    (f"{'N' * 101}=x", BAD_NAME),
    ("\n".join(f"V{i}=x" for i in range(201)), "At most 200 variables."),
    ("BIG=" + "x" * 10_001,
     "The value of BIG must be text without NUL characters, at most 10000 characters."),
], ids=["leading digit", "dash", "space", "name too long", "too many", "value too long"])
def test_a_member_setting_a_bad_environment_sees_why_and_no_release_is_made(
        client_for, member, rack, demo, env, message):
    releases = list(demo.releases.values_list("id", "env"))
    response = client_for("member").post(f"/racks/{rack.pk}/apps/demo/env/", {"env": env})
    assert response.status_code == 400
    html = response.content.decode()
    assert error_beside(html, "env-env") == message
    # What was typed comes back in the textarea, the bad line with it.
    assert response.context["env_form"]["env"].value() == env
    assert f">\n{escape(env)}</textarea>" in html
    assert list(demo.releases.values_list("id", "env")) == releases


def test_a_member_setting_a_good_environment_makes_a_release(client_for, member, rack, demo):
    # As many variables and as long a value as the rule allows.
    env = "\n".join([*(f"V{i}=x" for i in range(199)), "_UNDER_1=" + "y" * 10_000])
    before = list(demo.releases.values_list("id", flat=True))
    response = client_for("member").post(f"/racks/{rack.pk}/apps/demo/env/", {"env": env},
                                         follow=True)
    new = demo.releases.exclude(id__in=before).get()
    assert messages_of(response) == [f"Created release {new.id} with the new environment."]
    assert new.env == {**{f"V{i}": "x" for i in range(199)}, "_UNDER_1": "y" * 10_000}


def test_an_environment_set_through_the_api_can_be_saved_again_from_its_page(
        client_for, member, rack, demo):
    # Longer in all than the form used to take (20,000 characters), within the rule.
    env = {f"LONG_{i}": str(i) * 10_000 for i in range(3)}
    LocalRack().set_env(demo, env)
    page = client_for("member").get(f"/racks/{rack.pk}/apps/demo/")
    shown = page.context["env_form"].initial["env"]
    before = list(demo.releases.values_list("id", flat=True))
    response = client_for("member").post(f"/racks/{rack.pk}/apps/demo/env/", {"env": shown},
                                  follow=True)
    new = demo.releases.exclude(id__in=before).get()
    assert messages_of(response) == [f"Created release {new.id} with the new environment."]
    assert new.env == env


def test_promoting_the_live_release_again_is_refused_politely(client_for, member, rack, demo):
    release = Release.objects.get(app=demo)
    LocalRack().promote(release)
    response = client_for("member").post(
        f"/racks/{rack.pk}/apps/demo/releases/{release.id}/promote/", follow=True)
    assert messages_of(response) == [f"Release {release.id} is already the live release."]


def test_a_build_that_fails_is_reported(client_for, member, rack, demo, celery_worker):
    response = client_for("member").post(f"/racks/{rack.pk}/apps/demo/builds/",
                                  {"description": "broken", "fail": "on"}, follow=True)
    assert messages_of(response)[0].startswith("Started build B")
    build = Build.objects.get(app=demo)
    wait_for(lambda: Build.objects.get(pk=build.pk).status == "failed")
    assert Notification.objects.filter(event_type="build:failed").get().message == (
        f"[production] Build {build.id} failed for app demo")
    page = client_for("member").get(f"/racks/{rack.pk}/apps/demo/builds/{build.id}/")
    assert b"ERROR: tests failed" in page.content


def test_deleting_a_resource(client_for, member, rack):
    LocalRack().create_resource(rack, "cache", "redis")
    response = client_for("member").post(f"/racks/{rack.pk}/resources/cache/delete/", follow=True)
    assert messages_of(response) == ["Deleted the resource cache."]
    assert not Resource.objects.exists()
    assert client_for("member").post(f"/racks/{rack.pk}/resources/cache/delete/").status_code == 404


@pytest.mark.parametrize("change", [{"version": "<b>3</b>"}, {"instance_type": "t3.日本"}])
def test_the_api_refuses_what_the_rack_form_refuses(client_for, owner, rack, change):
    answer = client_for(owner).patch(f"/api/v1/racks/{rack.pk}/", change, format="json")
    assert answer.status_code == 400 and list(change) == list(answer.json())
    rack.refresh_from_db()
    assert rack.version != "<b>3</b>"


def test_a_save_from_a_page_loaded_before_another_save_replaces_nothing(
        client_for, member, rack, demo):
    client = client_for("member")
    page = client.get(f"/racks/{rack.pk}/apps/demo/")
    shown = page.context["env_form"].initial
    assert f'name="based_on" value="{shown["based_on"]}"' in page.content.decode()
    # Someone else saves meanwhile.
    theirs = LocalRack().set_env(demo, {"THEIRS": "1"})
    refused = client.post(f"/racks/{rack.pk}/apps/demo/env/",
                          {"env": "MINE=1", "based_on": shown["based_on"]})
    assert refused.status_code == 400
    assert f"was changed (release {theirs.id})" in error_beside(refused.content.decode(),
                                                                "env-env")
    assert "MINE=1" in refused.content.decode()  # what was typed is kept
    assert demo.releases.order_by("-created_at").first() == theirs
    # From the reloaded page it saves.
    again = client.get(f"/racks/{rack.pk}/apps/demo/").context["env_form"].initial
    saved = client.post(f"/racks/{rack.pk}/apps/demo/env/",
                        {"env": "MINE=1\nTHEIRS=1", "based_on": again["based_on"]})
    assert saved.status_code == 302
    assert demo.releases.order_by("-created_at").first().env == {"MINE": "1", "THEIRS": "1"}
