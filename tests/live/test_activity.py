"""Each rack and app page shows its last 30 days: events per day by severity, deploys and
failures marked, drawn as SVG on the server with a table of the same numbers."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.activity import DAYS, activity
from notifications.envelope import Envelope
from notifications.models import Notification
from notifications.pipeline import record_event
from racks.local import LocalRack

pytestmark = pytest.mark.django_db


def rack_event(rack, action: str = "app:create", status: str = "success", **data: str):
    return record_event(rack, Envelope(action=action, status=status, data=data)).notification


def test_activity_counts_each_day_by_severity_with_deploys_and_failures(rack):
    rack_event(rack, app="web")
    rack_event(rack, "build:create", "error", app="web", id="BAAAAAAAAAA")
    rack_event(rack, "release:promote", "success", app="web", id="RAAAAAAAAAA")
    old = rack_event(rack, app="blog")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    ancient = rack_event(rack, app="blog", name="x")
    Notification.objects.filter(pk=ancient.pk).update(
        created_at=timezone.now() - timedelta(days=DAYS + 1))
    days = activity(rack).days
    assert len(days) == DAYS
    today = days[-1]
    assert today.total == 3 and today.failures == 1 and today.deploys == 1
    assert days[-4].total == 1
    assert sum(d.total for d in days) == 4
    assert [d.total for d in activity(rack, "web").days][-1] == 3
    # The tallest day's bar fills the chart.
    assert sum(s.height for s in today.segments) == pytest.approx(80)


def test_the_app_page_draws_it_with_a_table_alternative(client_for, viewer, rack):
    LocalRack().create_app(rack, "web")
    rack_event(rack, "build:create", "error", app="web", id="BAAAAAAAAAA")
    html = client_for("viewer").get(f"/racks/{rack.pk}/apps/web/").content.decode()
    assert re.search(r'<svg class="activity-chart"[^>]+role="img"', html)
    assert "2 events in the last 30 days" in html
    assert '<rect class="sev-error"' in html and "1 failed" in html
    assert "<summary>Activity as a table</summary>" in html
    rack_page = client_for("viewer").get(f"/racks/{rack.pk}/").content.decode()
    assert 'data-live-part="activity"' in rack_page


def test_a_day_with_a_deploy_and_a_failure_shows_both_marks(client_for, viewer, rack):
    LocalRack().create_app(rack, "web")
    rack_event(rack, "build:create", "error", app="web", id="BAAAAAAAAAA")
    rack_event(rack, "release:promote", "success", app="web", id="RAAAAAAAAAA")
    html = client_for("viewer").get(f"/racks/{rack.pk}/apps/web/").content.decode()
    marks = re.findall(r'<text class="mark (\w+)" x="(\d+)" y="(\d+)">', html)
    assert [(kind, y) for kind, _, y in marks] == [("deploy", "92"), ("failure", "104")]
    assert marks[0][1] == marks[1][1]  # the same day
    assert 'viewBox="0 0 420 106"' in html
