"""The unread count: the badge on every page, and how an open socket keeps it exact.

Counted here and nowhere else. Pages and the API ask `unread_count`. An open socket
cannot ask it for every notification (a count of every unread entry of every member of
the organization, per event), so each socket keeps a `Badge`, by one rule:

    badge = the last exact count + one per notification pushed since,
            except the notifications that exact count already included.

An exact count (`unread_state`) is taken when the socket connects, when it resumes, and
after every read or unread of its user (`tell_browsers`). The exception is there because
a push leaves just after its notification commits: a count taken in between includes the
notification, and its push still arrives after the count. So an exact count comes with
the ids of the recent notifications it includes (those of the last `IN_FLIGHT`; older
ones have long been pushed), and the badge does not add those again.

The count and its list are two reads, and must agree on which recent notifications are
in: the list is read first, and the count takes only the recent entries the list names.
A notification committing between the two reads is in neither, and its push adds it.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from notifications.live.push import broadcast_unread_count
from notifications.models import FeedEntry

# A push arrives within milliseconds of its commit; a notification older than this is
# not on its way any more.
IN_FLIGHT = timedelta(seconds=30)
# The most recent notifications an exact count lists (a burst past it to one user: the
# older ones of the burst are counted by the next exact count after IN_FLIGHT).
IN_FLIGHT_MAX = 100


def unread_count(user_id: int) -> int:
    # Served by the partial index feed_user_unread_idx.
    return FeedEntry.objects.filter(user_id=user_id, read=False).count()


@dataclass(frozen=True)
class UnreadState:
    """An exact count, and the recent notifications it includes."""

    count: int
    counted: list[int] = field(default_factory=list)


def unread_state(user_id: int) -> UnreadState:
    since = timezone.now() - IN_FLIGHT
    # The newest entries first, then the recent among them: a filter on the time inside
    # the (user, notification) index scan would read every entry of a quiet feed.
    newest = (FeedEntry.objects.filter(user_id=user_id).order_by("-notification_id")
              .values("pk")[:IN_FLIGHT_MAX])
    counted = list(FeedEntry.objects.filter(pk__in=newest, created_at__gte=since)
                   .values_list("notification_id", flat=True))
    count = (FeedEntry.objects.filter(user_id=user_id, read=False)
             .filter(Q(created_at__lt=since) | Q(notification_id__in=counted)).count())
    return UnreadState(count, counted)


def tell_browsers(user_id: int) -> None:
    """Send the user's open sockets their exact count (after a read or unread commits)."""
    state = unread_state(user_id)
    broadcast_unread_count(user_id, state.count, state.counted)


class Badge:
    """One open socket's unread count, by the rule above."""

    def __init__(self, state: UnreadState) -> None:
        self.reset(state)

    def reset(self, state: UnreadState) -> None:
        """An exact count came in."""
        self.count = state.count
        self.already_counted = set(state.counted)

    def add(self, notification_id: int) -> int:
        """A notification was pushed to the socket: the count with it."""
        if notification_id in self.already_counted:
            self.already_counted.discard(notification_id)
        else:
            self.count += 1
        return self.count
