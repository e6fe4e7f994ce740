"""A rack's or an app's activity over the last 30 days, for the pictures on their pages:
events per day by severity, with deploys and failures counted apart."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from notifications.catalogue import Severity
from notifications.models import Notification
from racks.models import Rack

DAYS = 30
DEPLOYED = "release:deployed"
# The chart's drawing: bars of BAR wide in a box of CHART_WIDTH x CHART_HEIGHT.
BAR, GAP, CHART_HEIGHT = 10, 4, 80
MARK_ROW = 12  # a row of the marks under the bars
CHART_WIDTH = DAYS * (BAR + GAP)
SEVERITIES = (Severity.ERROR, Severity.INFO, Severity.SUCCESS)  # bottom up


@dataclass
class Segment:
    severity: str
    y: float
    height: float


@dataclass
class Day:
    day: date
    counts: dict[str, int] = field(default_factory=dict)
    deploys: int = 0
    x: int = 0
    segments: list[Segment] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return self.counts.get(Severity.ERROR, 0)


@dataclass
class Activity:
    days: list[Day]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    bar: int = BAR

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)

    @property
    def drawn_height(self) -> int:
        """The bars and, below them, a row of marks: two rows when a day has both a
        deploy (▲) and a failure (✕), each mark on its own."""
        both = any(d.deploys and d.failures for d in self.days)
        return self.height + 2 + MARK_ROW * (2 if both else 1)

    @property
    def first_mark_y(self) -> int:
        return self.height + MARK_ROW

    @property
    def second_mark_y(self) -> int:
        return self.height + 2 * MARK_ROW


def activity(rack: Rack, app: str | None = None) -> Activity:
    """The last DAYS days (UTC) of the rack's notifications, or of one app's."""
    today = timezone.now().date()
    first = today - timedelta(days=DAYS - 1)
    rows = Notification.objects.filter(rack=rack, created_at__date__gte=first)
    if app is not None:
        rows = rows.filter(app=app)
    by_day = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(DAYS)}
    counted = (rows.annotate(day=TruncDate("created_at")).values("day", "severity")
               .annotate(n=Count("id")).order_by())
    for row in counted:
        if row["day"] in by_day:
            by_day[row["day"]].counts[row["severity"]] = row["n"]
    deploys = (rows.filter(event_type=DEPLOYED).annotate(day=TruncDate("created_at"))
               .values("day").annotate(n=Count("id")).order_by())
    for row in deploys:
        if row["day"] in by_day:
            by_day[row["day"]].deploys = row["n"]
    days = list(by_day.values())
    peak = max((d.total for d in days), default=0)
    for n, day in enumerate(days):
        day.x = n * (BAR + GAP)
        bottom = float(CHART_HEIGHT)
        for severity in SEVERITIES:
            count = day.counts.get(severity, 0)
            if count and peak:
                height = CHART_HEIGHT * count / peak
                bottom -= height
                day.segments.append(Segment(severity, round(bottom, 2), round(height, 2)))
    return Activity(days, peak)
