"""Preferences decide who gets what: in the feed, by email, and to webhooks."""

import pytest

from notifications.catalogue import BY_KEY, EVENT_TYPES, Channel
from notifications.delivery.endpoints import create_endpoint
from notifications.models import Delivery, DeliveryStatus, EmailDigest, FeedEntry, Preference
from notifications.preferences import default_channels, members_channels_wanted, set_preference
from racks.models import Rack

IN_APP, EMAIL, WEBHOOK = Channel.IN_APP.value, Channel.EMAIL.value, Channel.WEBHOOK.value


def _gets(user, notification) -> set[str]:
    got = set()
    if FeedEntry.objects.filter(user=user, notification=notification).exists():
        got.add(IN_APP)
    for delivery in Delivery.objects.filter(user=user, notification=notification):
        got.add(delivery.channel)
    return got


def test_without_rules_everyone_gets_the_catalogue_defaults(owner, member, viewer, rack, emit):
    failed = emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    created = emit("app:create", app="web", name="web")
    built = emit("build:create", "success", id="BBBBBBBBBBB", app="web")
    for user in (owner, member, viewer):
        assert _gets(user, failed) == {IN_APP, EMAIL}
        assert _gets(user, created) == {IN_APP}
        assert _gets(user, built) == set()


def test_defaults_match_the_catalogue():
    for kind in EVENT_TYPES:
        extra = {WEBHOOK} if kind.notifies_by_default else set()
        assert default_channels(kind) == kind.default_channels | extra
    assert default_channels(BY_KEY["build:complete"]) == frozenset()
    assert default_channels(BY_KEY["rack:internal"]) == frozenset()


def test_a_per_type_rule_changes_what_one_member_gets(owner, member, rack, emit):
    set_preference(member, event_type="build:failed", channels=[IN_APP])
    set_preference(member, event_type="app:create", channels=[IN_APP, EMAIL])
    set_preference(member, event_type="build:complete", channels=[IN_APP])
    failed = emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    created = emit("app:create", app="web", name="web")
    built = emit("build:create", "success", id="BBBBBBBBBBB", app="web")
    assert _gets(member, failed) == {IN_APP}
    assert _gets(member, created) == {IN_APP, EMAIL}
    assert _gets(member, built) == {IN_APP}
    assert _gets(owner, failed) == {IN_APP, EMAIL}  # others keep the defaults


def test_muting_an_app_hides_it_in_app_and_by_email(member, rack, emit):
    set_preference(member, event_type="*", channels=[], rack_id=rack.pk, app="noisy")
    assert _gets(member, emit("build:create", "error", id="BAAAAAAAAAA", app="noisy")) == set()
    assert _gets(member, emit("build:create", "error", id="BCCCCCCCCCC", app="web")) == {
        IN_APP, EMAIL}


def test_following_only_one_rack(member, org, rack, emit):
    staging = Rack.objects.create(organization=org, name="staging")
    set_preference(member, event_type="*", channels=[])
    set_preference(member, event_type="*", channels=[IN_APP], rack_id=rack.pk)
    assert _gets(member, emit("app:create", app="web", name="web")) == {IN_APP}
    from notifications.envelope import Envelope
    from notifications.pipeline import record_event
    other = record_event(staging, Envelope("app:create", data={"app": "web"})).notification
    assert _gets(member, other) == set()


def test_only_failures_of_the_production_rack_by_email(member, rack, emit):
    set_preference(member, event_type="*", channels=[IN_APP], rack_id=rack.pk)
    set_preference(member, event_type="build:failed", channels=[IN_APP, EMAIL], rack_id=rack.pk)
    assert _gets(member, emit("build:create", "error", id="BAAAAAAAAAA", app="web")) == {
        IN_APP, EMAIL}
    assert _gets(member, emit("release:promote", "error", id="RAAAAAAAAAA", app="web")) == {
        IN_APP}


def test_precedence_app_over_rack_over_everywhere_then_type_over_star(org, member, rack, emit):
    set_preference(member, event_type="build:failed", channels=[EMAIL])
    set_preference(member, event_type="*", channels=[WEBHOOK], rack_id=rack.pk)
    set_preference(member, event_type="build:failed", channels=[IN_APP], rack_id=rack.pk)
    set_preference(member, event_type="*", channels=[IN_APP, EMAIL], rack_id=rack.pk, app="web")
    web = emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    api = emit("build:create", "error", id="BCCCCCCCCCC", app="api")
    api_created = emit("app:create", app="api", name="api")
    def wanted(notification):
        return members_channels_wanted(org.pk, [member.pk], notification)[member.pk]

    assert wanted(web) == {IN_APP, EMAIL}  # app rule
    assert wanted(api) == {IN_APP}  # rack rule for the type
    assert wanted(api_created) == {WEBHOOK}  # rack "*" rule


def test_the_channels_wanted_are_one_query_for_the_whole_organization(
        org, rack, make_user, emit, django_assert_num_queries):
    from racks.models import Membership
    users = []
    for n in range(30):
        user = make_user(f"user{n}")
        Membership.objects.create(organization=org, user=user)
        set_preference(user, event_type="*", channels=[IN_APP], rack_id=rack.pk)
        users.append(user)
    notification = emit("app:create", app="web", name="web")
    with django_assert_num_queries(1):
        wanted = members_channels_wanted(org.pk, [user.pk for user in users], notification)
    assert set(wanted.values()) == {frozenset({IN_APP})}


def test_addressing_costs_a_fixed_number_of_queries(org, rack, make_user, emit,
                                                    django_assert_max_num_queries, receiver):
    from racks.models import Membership
    for n in range(30):
        user = make_user(f"user{n}")
        Membership.objects.create(organization=org, user=user)
        create_endpoint(user, url=receiver.url, events=["*"])
        if n % 2:
            EmailDigest.objects.create(user=user, window_minutes=60)
    # insert the notification, apply state, members, preferences, feed, endpoints,
    # deliveries, savepoints: independent of the number of members
    with django_assert_max_num_queries(14):
        notification = emit("build:create", "error", id="BAAAAAAAAAA", app="web")
    assert Delivery.objects.filter(notification=notification, channel=WEBHOOK).count() == 30
    assert Delivery.objects.filter(notification=notification,
                                   status=DeliveryStatus.BATCHED).count() == 15


def test_a_rule_for_an_app_needs_its_rack(db, member):
    from django.db import IntegrityError
    with pytest.raises(IntegrityError):
        Preference.objects.create(user=member, event_type="*", app="web", channels=[])
