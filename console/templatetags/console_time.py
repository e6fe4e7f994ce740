"""Times as every page shows them: `{% moment when %}`.

One `<time class="ago">` element with the time in ISO 8601, which static/console/times.js
rewrites in the reader's own time zone, the zone named, beside how long ago (or until) it
is, and keeps ticking. What the server writes is for a reader without JavaScript: the same
relative time and the exact time in UTC, named.
"""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.simple_tag
def moment(when: datetime | None, empty: str = "") -> SafeString | str:
    """`when` as a ticking time in the reader's zone; `empty` when there is none."""
    if when is None:
        return empty
    utc = when.astimezone(UTC)
    relative = (f"in {timeuntil(when)}" if when > timezone.now()
                else f"{timesince(when)} ago")
    return format_html('<time class="ago" datetime="{}" title="{}">{} · {}</time>',
                       utc.isoformat(), f"{utc:%Y-%m-%d %H:%M:%S} UTC", relative,
                       f"{utc:%Y-%m-%d %H:%M} UTC")
