"""The feed's first page comes from the server, as the API would answer it: it reads
without JavaScript, takes its filters from the query string, and its "Older" link leads
to the next page."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.envelope import Envelope
from notifications.pipeline import record_event
from racks.models import Membership, Organization, Rack, Role

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parents[2] / "static" / "console"
# What the feed page costs besides its items: the session, the user, the reader's racks,
# and the header's newest feed id, organizations and pending invitations.
AROUND_THE_FEED = 6


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


def shown_ids(html: str) -> list[int]:
    """The items the server rendered (the <template>'s item has no id)."""
    return [int(i) for i in re.findall(r'<li class="item[^"]*" data-id="(\d+)"', html)]


def older_link(html: str) -> str:
    found = re.search(r'<a href="(\?[^"]*)" rel="next" data-older', html)
    assert found, "no Older link"
    return found.group(1).replace("&amp;", "&")


def test_the_feed_reads_without_javascript_page_by_page(client_for, member, rack):
    made = [rack_event(rack, app=f"app-{i}").pk for i in range(60)]
    client = client_for("member")
    first = client.get("/").content.decode()
    assert shown_ids(first) == sorted(made, reverse=True)[:50]
    second = client.get("/" + older_link(first)).content.decode()
    assert shown_ids(second) == sorted(made, reverse=True)[50:]
    assert "That is everything." in second and "data-older" not in second
    # The same pages as the API's.
    api = client.get("/api/v1/notifications/").json()
    assert [item["id"] for item in api["results"]] == shown_ids(first)


def test_an_item_on_the_page_says_what_where_who_and_when(client_for, member, rack, make_user):
    elsewhere = Organization.objects.create(name="Initech", slug="initech")
    Membership.objects.create(organization=elsewhere, user=member, role=Role.MEMBER)
    Rack.objects.create(organization=elsewhere, name="initech-prod")
    failed = rack_event(rack, "build:create", "error", app="shop", id="BAAAAAAAAAA",
                        actor="alice")
    html = client_for("member").get("/").content.decode()
    item = html[html.index(f'data-id="{failed.pk}"'):]
    item = item[:item.index("</li>")]
    assert f'<a class="message" dir="auto" href="/notifications/{failed.pk}/open/">' \
           "[production] Build BAAAAAAAAAA failed for app shop</a>" in item
    assert '<span class="severity" data-severity="error">✕ Error</span>' in item
    assert f'<a class="rack" dir="auto" href="/racks/{rack.pk}/">production</a>' in item
    assert f'<a class="app" dir="auto" href="/racks/{rack.pk}/apps/shop/">shop</a>' in item
    assert f'href="/racks/{rack.pk}/apps/shop/builds/BAAAAAAAAAA/">build BAAAAAAAAAA</a>' in item
    assert '<span class="source" data-source="rack">from the rack</span>' in item
    assert '<span class="actor">by <bdi>alice</bdi></span>' in item
    # A reader of two organizations is told whose rack it is.
    assert '<span class="organization"><bdi>Acme</bdi></span>' in item
    assert re.search(r"\d+\sminutes ago · \d+ \w+ \d{4}, \d\d:\d\d UTC</time>", item)
    # Each <time> says its moment, for the browser to write it in the reader's zone.
    day = timezone.now().date().isoformat()
    assert f'<li class="day"><time class="day-name" datetime="{day}">' in html
    assert re.search(r'<time class="ago" datetime="\d{4}-\d\d-\d\dT[^"]+"', item)


def test_filters_in_the_query_string_choose_the_items(client_for, member, rack):
    failed = rack_event(rack, "build:create", "error", app="Shop-Front", id="BAAAAAAAAAA")
    rack_event(rack, app="blog")
    client = client_for("member")
    assert shown_ids(client.get("/?event_type=build:failed").content.decode()) == [failed.pk]
    assert shown_ids(client.get("/?app=shop").content.decode()) == [failed.pk]
    assert shown_ids(client.get(f"/racks/{rack.pk}/?status=error").content.decode()) == \
        [failed.pk]
    nothing = client.get("/?status=skipped").content.decode()
    assert shown_ids(nothing) == [] and "Nothing matches these filters." in nothing


def test_the_filter_form_is_sent_with_get_and_its_button_is_there_without_script(
        client_for, member, rack):
    html = client_for("member").get("/").content.decode()
    assert '<form class="filters" data-filters method="get">' in html
    assert '<noscript><button type="submit">Show</button></noscript>' in html


def test_filters_that_cannot_be_read_are_a_400_that_says_why(client_for, member, rack):
    rack_event(rack, app="shop")
    answer = client_for("member").get("/?rack=first&event_type=nonsense")
    html = answer.content.decode()
    assert answer.status_code == 400
    assert "These filters cannot be used: rack: Enter a whole number." in html
    assert shown_ids(html) == []
    assert client_for("member").get("/?cursor=forged").status_code == 404


def test_a_rack_page_shows_its_history_to_a_member_who_joined_later(client_for, rack,
                                                                     make_user):
    earlier = rack_event(rack, app="shop")
    late = make_user("lena")
    Membership.objects.create(organization=rack.organization, user=late, role=Role.VIEWER)
    html = client_for(late).get(f"/racks/{rack.pk}/").content.decode()
    assert shown_ids(html) == [earlier.pk]
    item = html[html.index(f'data-id="{earlier.pk}"'):]
    # Outside the reader's feed: nothing to mark.
    assert "toggle-read" not in item[:item.index("</li>")]


def test_the_first_page_costs_what_one_api_page_costs(client_for, member, rack,
                                                      django_assert_max_num_queries):
    other = Rack.objects.create(organization=rack.organization, name="staging")
    for i in range(60):
        rack_event(rack if i % 2 else other, app=f"app-{i}", id=f"R{'ABCDEFGHIJ'[i % 10] * 10}")
    client = client_for("member")
    with CaptureQueriesContext(connection) as api:
        client.get("/api/v1/notifications/")
    feed_queries = len(api.captured_queries) - 2  # less its session and user
    with django_assert_max_num_queries(AROUND_THE_FEED + feed_queries):
        assert len(shown_ids(client.get("/").content.decode())) == 50


def test_the_scripts_hold_no_paths_of_the_console(settings):
    # URLs come from the templates ({% url %}), never from strings in the scripts.
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        for path in ('"/racks/', "'/racks/", '"/api/', "'/api/", "/racks/", "/api/"):
            assert path not in text, f"{script.name} names {path}"
