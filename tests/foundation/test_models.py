"""The domain's rules hold in the database itself."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from racks.models import (
    App,
    Build,
    Membership,
    Organization,
    Rack,
    Release,
    Role,
    new_object_id,
    validate_signing_keys,
)


def test_object_ids_look_like_a_racks():
    assert new_object_id("B")[0] == "B" and len(new_object_id("R")) == 11
    assert new_object_id("B")[1:].isupper()


def test_a_rack_name_is_unique_within_its_organization(org, other_org):
    Rack.objects.create(organization=org, name="production")
    Rack.objects.create(organization=other_org, name="production")
    with pytest.raises(IntegrityError):
        Rack.objects.create(organization=org, name="production")


def test_each_rack_gets_its_own_unguessable_ingest_token(org):
    a = Rack.objects.create(organization=org, name="a")
    b = Rack.objects.create(organization=org, name="b")
    assert a.ingest_token != b.ingest_token and len(a.ingest_token) >= 40
    assert a.ingest_path == f"/ingest/{a.ingest_token}/"


def test_a_user_is_a_member_of_an_organization_once(org, owner):
    with pytest.raises(IntegrityError):
        Membership.objects.create(organization=org, user=owner, role=Role.VIEWER)


def test_an_app_has_one_live_release(rack):
    app = App.objects.create(rack=rack, name="web")
    Release.objects.create(id="RAAAAAAAAAA", app=app, active=True)
    with pytest.raises(IntegrityError):
        Release.objects.create(id="RBBBBBBBBBB", app=app, active=True)


def test_build_and_release_ids_must_have_the_rack_format(rack):
    app = App.objects.create(rack=rack, name="web")
    with pytest.raises(IntegrityError):
        Build.objects.create(id="B123", app=app)


def test_release_ids_must_have_the_rack_format(rack):
    app = App.objects.create(rack=rack, name="web")
    with pytest.raises(IntegrityError):
        Release.objects.create(id="Rlowercase1", app=app)


@pytest.mark.parametrize("keys", ["a" * 64, "ab" * 32 + "," + "cd" * 40, ""])
def test_signing_keys_in_the_rack_parameters_format_are_accepted(keys):
    validate_signing_keys(keys)


@pytest.mark.parametrize("keys", ["A" * 64, "ab" * 16, "zz" * 32, ",".join(["a" * 64] * 5),
                                  "a" * 65])
def test_other_signing_keys_are_refused(keys):
    with pytest.raises(ValidationError):
        validate_signing_keys(keys)


def test_rack_signing_keys_are_bytes(org):
    rack = Rack(organization=org, name="r", webhook_signing_key="00" * 32 + "," + "ff" * 32)
    assert rack.signing_keys == [b"\x00" * 32, b"\xff" * 32]


def test_organization_slugs_are_made_unique(db):
    Organization.objects.create(name="Acme", slug=Organization.unique_slug("Acme"))
    assert Organization.unique_slug("Acme") == "acme-2"


def test_deleting_a_user_or_a_rack_takes_their_feed_entries_with_them(rack, member, owner):
    """The feed's keys are not checked by the database (models.FeedEntry): Django's
    deletes must leave no entry pointing at a user or notification that is gone."""
    from notifications.models import FeedEntry, Notification
    from racks.local import LocalRack

    LocalRack().create_app(rack, "web")
    assert FeedEntry.objects.filter(user=member).count() == 1
    member.delete()
    assert not FeedEntry.objects.filter(user_id=member.pk).exists()
    assert FeedEntry.objects.filter(user=owner).count() == 1

    rack.delete()
    assert not Notification.objects.exists()
    assert not FeedEntry.objects.exists()
