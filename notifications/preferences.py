"""Which channels each person wants for a notification: the one rule.

With no rule of theirs, a person gets the catalogue's default channels, and webhooks for
every event type that notifies by default (which of their endpoints receive it is each
endpoint's own event list). A rule (notifications.models.Preference) replaces the
channels for its scope; the most specific rule wins: app over rack over everywhere, then
a named event type over "*".
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet

from notifications.catalogue import BY_KEY, Channel, EventType
from notifications.models import (
    ANY_EVENT_TYPE,
    EmailDigest,
    Notification,
    Preference,
    WebhookEndpoint,
)
from racks.models import Membership, Rack

# A preference rule as the choice reads it: (event_type, rack_id, app, channels).
Rule = tuple[str, int | None, str, Iterable[str]]
CHANNELS = frozenset(Channel.values)


def default_channels(kind: EventType) -> frozenset[str]:
    if kind.notifies_by_default:
        return kind.default_channels | {Channel.WEBHOOK.value}
    return kind.default_channels


def usable_channels(user: AbstractBaseUser) -> frozenset[str]:
    """The channels that can reach the user now: webhooks only with an enabled endpoint.

    The rules above still hold (a person who adds a webhook gets the defaults' webhooks);
    this only says what the settings page may offer and store: it neither ticks nor
    silently saves a webhook channel for someone with no webhook to send it to.
    """
    if WebhookEndpoint.objects.filter(user=user, enabled=True).exists():
        return frozenset(Channel.values)
    return frozenset(Channel.values) - {Channel.WEBHOOK.value}


def override_problem(rack: Rack, app: str) -> str | None:
    """Why a rule for `app` on `rack` cannot be saved, or None: it must name an app the
    rack has (anything else would never apply). The settings page and the API both ask."""
    if app and not rack.apps.filter(name=app).exists():
        return f"{rack.name} has no app named {app}."
    return None


def _rank(event_type: str, rack_id: int | None, app: str) -> int:
    scope = 2 if app else 1 if rack_id else 0
    return scope * 2 + (event_type != ANY_EVENT_TYPE)


def channels_wanted_by(user_id: int, notification: Notification) -> frozenset[str]:
    """The channels the notification goes to for one user known by id."""
    return _choose([user_id], _rules(notification, Q(user_id=user_id)), notification)[user_id]


def members_channels_wanted(
    organization_id: int, user_ids: Sequence[int], notification: Notification
) -> dict[int, frozenset[str]]:
    """For each of these members of an organization, the channels the notification goes
    to (the pipeline's way). One query for everyone.

    Their rules are found through the membership table rather than by a list of every
    member's id: Django compiles and sends `IN (...)` with 1,000 ids in several ms.
    """
    if not user_ids:
        return {}
    members = Membership.objects.filter(organization_id=organization_id).values("user_id")
    return _choose(user_ids, _rules(notification, Q(user_id__in=members)), notification)


def _rules(notification: Notification, users: Q) -> QuerySet:
    scope = Q(rack__isnull=True) | Q(rack_id=notification.rack_id, app="")
    if notification.app:
        scope |= Q(rack_id=notification.rack_id, app=notification.app)
    return Preference.objects.filter(
        scope, users, event_type__in=[notification.event_type, ANY_EVENT_TYPE],
    ).values_list("user_id", "event_type", "rack_id", "app", "channels")


def _choose(user_ids: Sequence[int], rules: QuerySet,
            notification: Notification) -> dict[int, frozenset[str]]:
    """Each user's channels for the notification, by chosen_channels."""
    kind = BY_KEY[notification.event_type]
    by_user: dict[int, list[Rule]] = defaultdict(list)
    for user_id, *rule in rules:
        by_user[user_id].append(rule)
    defaults = default_channels(kind)
    return {user_id: chosen_channels(kind, by_user[user_id]) if user_id in by_user
            else defaults for user_id in user_ids}


def chosen_channels(kind: EventType, rules: Iterable[Rule]) -> frozenset[str]:
    """One person's channels for an event type, given their rules that apply where it
    happened: the most specific rule's, else the catalogue's defaults."""
    best, wanted = -1, default_channels(kind)
    for event_type, rack_id, app, channels in rules:
        rank = _rank(event_type, rack_id, app)
        if rank >= best:
            best, wanted = rank, frozenset(channels) & CHANNELS
    return wanted


def replace_preferences(user: AbstractBaseUser, rules: Iterable[dict]) -> list[Preference]:
    """Make `rules` (event_type, rack, app, channels; already checked) the user's rules."""
    with transaction.atomic():
        Preference.objects.filter(user=user).delete()
        return Preference.objects.bulk_create(
            Preference(user=user, event_type=rule["event_type"], rack=rule.get("rack"),
                       app=rule.get("app") or "", channels=sorted(set(rule["channels"])))
            for rule in rules
        )


def set_preference(user: AbstractBaseUser, *, event_type: str, channels: Iterable[str],
                   rack_id: int | None = None, app: str = "") -> Preference:
    """Set the channels of one rule of the user's (the settings page's single edits)."""
    preference, _ = Preference.objects.update_or_create(
        user=user, event_type=event_type, rack_id=rack_id, app=app,
        defaults={"channels": sorted(set(channels))},
    )
    return preference


def clear_preference(user: AbstractBaseUser, *, event_type: str) -> None:
    """Drop the user's rule for an event type everywhere: the defaults (or "*") apply."""
    Preference.objects.filter(user=user, rack__isnull=True, event_type=event_type).delete()


def remove_override(user: AbstractBaseUser, preference_id: int) -> None:
    """Drop one of the user's rules for a rack or an app (another's is left alone)."""
    Preference.objects.filter(user=user, pk=preference_id, rack__isnull=False).delete()


def set_email_digest(user: AbstractBaseUser, minutes: int) -> None:
    """Send the user's emails as they happen (0) or batched into one every `minutes`."""
    EmailDigest.objects.update_or_create(user=user, defaults={"window_minutes": minutes})
