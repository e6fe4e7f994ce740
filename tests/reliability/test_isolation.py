"""Tenant isolation, property-based: whatever organizations, users, roles and racks exist,
nobody reaches another organization's data through any API list, detail or action."""

import json
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from notifications.delivery.endpoints import create_endpoint
from notifications.envelope import Envelope
from notifications.models import Notification
from notifications.pipeline import record_event
from racks.drivers import driver_for
from racks.models import Membership, Organization, Rack, Role

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]


@dataclass
class OrgWorld:
    org: Organization
    racks: list[Rack] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)  # strings only this org's data holds


roles = st.sampled_from(list(Role))
# Each user: for each organization, no membership or a role.
worlds = st.tuples(
    st.integers(min_value=2, max_value=3),  # organizations
    st.lists(st.lists(st.one_of(st.none(), roles), min_size=3, max_size=3),
             min_size=2, max_size=5),  # users and their memberships
    st.integers(min_value=1, max_value=2),  # racks per organization
)


def build_world(n_orgs: int, memberships: list[list[Role | None]], n_racks: int):
    User = get_user_model()
    orgs: list[OrgWorld] = []
    for i in range(n_orgs):
        world = OrgWorld(Organization.objects.create(name=f"Org {i}", slug=f"org-{i}"))
        world.secrets.add(f"org-{i}")
        orgs.append(world)
    users = []
    for u, row in enumerate(memberships):
        user = User.objects.create_user(f"user{u}", f"user{u}@example.com", "pw-123456789!")
        users.append(user)
        for i, role in enumerate(row[:n_orgs]):
            if role is not None:
                Membership.objects.create(organization=orgs[i].org, user=user, role=role)
    for i, world in enumerate(orgs):
        owner = User.objects.create_user(f"owner{i}", f"owner{i}@example.com", "pw-1234567!")
        Membership.objects.create(organization=world.org, user=owner, role=Role.OWNER)
        for r in range(n_racks):
            rack = Rack.objects.create(organization=world.org, name=f"o{i}-rack{r}")
            local = driver_for(rack)
            app = local.create_app(rack, f"o{i}-app{r}")
            release = local.set_env(app, {"SECRET": f"o{i}-env{r}"})
            local.promote(release)
            local.create_resource(rack, f"o{i}-pg{r}", "postgres")
            record_event(rack, Envelope(action="build:create", status="error",
                                        data={"id": f"BORG{i}RACKX{r}"[:11].ljust(11, "X"),
                                              "app": app.name, "message": f"o{i}-boom{r}"}))
            world.racks.append(rack)
            world.secrets.update({rack.name, app.name, release.id, rack.ingest_token,
                                  f"o{i}-pg{r}", f"o{i}-env{r}"})
        endpoint, secret = create_endpoint(owner, url="https://hooks.example.com/x",
                                           events=["*"])
        world.secrets.add(secret)
        world.endpoint_id = endpoint.pk  # type: ignore[attr-defined]
    return orgs, users


def requests_against(world: OrgWorld) -> list[tuple[str, str, dict]]:
    """Every way to name one organization's objects through the API."""
    reqs: list[tuple[str, str, dict]] = []
    slug = world.org.slug
    reqs += [("get", f"/api/v1/organizations/{slug}/", {}),
             ("patch", f"/api/v1/organizations/{slug}/", {"name": "taken"}),
             ("delete", f"/api/v1/organizations/{slug}/", {}),
             ("get", f"/api/v1/organizations/{slug}/members/", {}),
             ("post", f"/api/v1/organizations/{slug}/members/",
              {"username": "user0", "role": "owner"}),
             ("get", f"/api/v1/organizations/{slug}/invitations/", {}),
             ("post", f"/api/v1/organizations/{slug}/invitations/",
              {"username": "user0", "role": "owner"}),
             ("patch", f"/api/v1/organizations/{slug}/members/owner0/", {"role": "viewer"}),
             ("delete", f"/api/v1/organizations/{slug}/members/owner0/", {})]
    for rack in world.racks:
        base = f"/api/v1/racks/{rack.pk}/"
        app = rack.apps.first()
        release = app.releases.first()
        build_id = Notification.objects.filter(rack=rack, action="build:create").first()
        a = f"{base}apps/{app.name}/"
        reqs += [
            ("get", base, {}), ("patch", base, {"version": "9.9.9"}), ("delete", base, {}),
            ("get", base + "apps/", {}), ("post", base + "apps/", {"name": "intruder"}),
            ("get", a, {}), ("delete", a, {}),
            ("get", a + "builds/", {}), ("post", a + "builds/", {}),
            ("get", a + "releases/", {}), ("post", a + "releases/", {"env": {"X": "1"}}),
            ("get", a + f"releases/{release.id}/", {}),
            ("post", a + f"releases/{release.id}/promote/", {}),
            ("post", a + "scale/", {"process": "web", "count": 2}),
            ("get", base + "resources/", {}),
            ("get", base + "notifications/", {}),
            ("get", base + f"notifications/?app={app.name}", {}),
            ("post", base + "resources/", {"name": "evil", "type": "redis"}),
            ("get", base + f"resources/{rack.resources.first().name}/", {}),
            ("delete", base + f"resources/{rack.resources.first().name}/", {}),
        ]
        if build_id is not None:
            reqs.append(("get", a + f"builds/{build_id.data['id']}/", {}))
        for n in Notification.objects.filter(rack=rack):
            reqs += [("get", f"/api/v1/notifications/{n.pk}/", {}),
                     ("post", f"/api/v1/notifications/{n.pk}/read/", {}),
                     ("post", f"/api/v1/notifications/{n.pk}/unread/", {})]
    e = world.endpoint_id  # type: ignore[attr-defined]
    reqs += [("get", f"/api/v1/webhooks/{e}/", {}), ("delete", f"/api/v1/webhooks/{e}/", {}),
             ("patch", f"/api/v1/webhooks/{e}/", {"enabled": False}),
             ("get", f"/api/v1/webhooks/{e}/deliveries/", {})]
    return reqs


LISTS = ["/api/v1/organizations/", "/api/v1/racks/", "/api/v1/notifications/",
         "/api/v1/webhooks/", "/api/v1/preferences/", "/api/v1/auth/tokens/"]


def leaks(body: bytes, secrets: set[str]) -> set[str]:
    text = body.decode("utf-8", "replace")
    return {s for s in secrets if s in text}


@settings(max_examples=6, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(worlds)
def test_nobody_reaches_another_organizations_data(django_db_setup, world_shape):
    with transaction.atomic():
        orgs, users = build_world(*world_shape)
        checked = 0
        for user in users:
            client = APIClient()
            client.force_authenticate(user)
            mine = set(Membership.objects.filter(user=user)
                       .values_list("organization_id", flat=True))
            foreign = [w for w in orgs if w.org.pk not in mine]
            foreign_secrets = set().union(*(w.secrets for w in foreign)) if foreign else set()
            for path in LISTS:
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.status_code)
                assert not leaks(answer.content, foreign_secrets), (user, path)
            for world in foreign:
                for rack in world.racks:
                    answer = client.get(f"/api/v1/notifications/?rack={rack.pk}")
                    assert answer.status_code == 200, answer.content
                    assert answer.json()["results"] == []
                    assert not leaks(answer.content, world.secrets)
                for method, path, body in requests_against(world):
                    if method == "get":
                        answer = client.get(path)
                    else:
                        answer = getattr(client, method)(path, data=json.dumps(body),
                                                         content_type="application/json")
                    # A method the endpoint never allows says nothing about the object.
                    assert answer.status_code in (404, 405), (
                        user.username, method, path, answer.status_code, answer.content)
                    assert not leaks(answer.content, world.secrets), (method, path)
                    checked += 1
        # Nothing any outsider tried changed another organization.
        for world in orgs:
            for rack in world.racks:
                rack_now = Rack.objects.get(pk=rack.pk)
                assert rack_now.version == rack.version
                assert not rack_now.apps.filter(name="intruder").exists()
        transaction.set_rollback(True)
    n_orgs, memberships, _ = world_shape
    someone_is_an_outsider = any(None in row[:n_orgs] for row in memberships)
    assert (checked > 0) == someone_is_an_outsider
