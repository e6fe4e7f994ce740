"""Who hears of a notification, and how: decided once, in the notification's transaction.

It runs for every event, for every member of the rack's organization, so it reads only
the columns it needs (no User objects) and, on PostgreSQL, writes the feed in one
`INSERT .. SELECT unnest(array)`: an organization of 1,000 members costs four statements
and no model instances for the feed.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from notifications.catalogue import Channel
from notifications.models import (
    Delivery,
    DeliveryStatus,
    FeedEntry,
    Notification,
    WebhookEndpoint,
)
from notifications.preferences import members_channels_wanted
from racks.models import Membership


@dataclass(frozen=True)
class Addressed:
    """What address_notification wrote, for what follows the commit."""

    # The users whose feed holds the notification (its live push goes to them).
    readers: list[int] = field(default_factory=list)
    # The deliveries to queue after the commit (a digest's wait for their digest).
    pending: list[int] = field(default_factory=list)


class _Member(NamedTuple):  # made for every member on every event: a tuple is cheapest
    user_id: int
    email: str
    digest_minutes: int
    has_webhooks: bool


def _members(organization_id: int) -> list[_Member]:
    """The organization's active members: the few columns addressing needs, one query."""
    endpoints = WebhookEndpoint.objects.filter(user_id=OuterRef("user_id"), enabled=True)
    rows = (Membership.objects
            .filter(organization_id=organization_id, user__is_active=True)
            .annotate(has_webhooks=Exists(endpoints))
            .values_list("user_id", "user__email", "user__email_digest__window_minutes",
                         "has_webhooks"))
    return [_Member(user_id, email, digest or 0, hooks)
            for user_id, email, digest, hooks in rows]


def _put_in_feeds(notification: Notification, readers: list[int]) -> None:
    if not readers:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {FeedEntry._meta.db_table} "
                "(user_id, notification_id, read, created_at) "
                "SELECT reader, %s, false, %s FROM unnest(%s::bigint[]) AS reader",
                # As an array literal: with a list of 1,000 ints psycopg adapts each
                # one, and the statement costs twice as much (0.8 ms against 0.4 here).
                # Against bulk_create the live bench's p99 from ingest to socket is
                # 138 against 230 ms (A/B, 1,000 members).
                [notification.pk, timezone.now(),
                 "{" + ",".join(map(str, readers)) + "}"])
        return
    FeedEntry.objects.bulk_create(
        FeedEntry(user_id=reader, notification=notification)
        for reader in readers)


def _deliveries(notification: Notification, members: list[_Member],
                wanted: dict[int, frozenset[str]]) -> list[Delivery]:
    now = timezone.now()
    deliveries = []
    for member in members:
        if Channel.EMAIL in wanted[member.user_id] and member.email:
            batched = member.digest_minutes > 0
            deliveries.append(Delivery(
                notification=notification, user_id=member.user_id, channel=Channel.EMAIL,
                status=DeliveryStatus.BATCHED if batched else DeliveryStatus.PENDING,
                next_attempt_at=None if batched else now,
            ))
    hooked = [member.user_id for member in members
              if member.has_webhooks and Channel.WEBHOOK in wanted[member.user_id]]
    if hooked:
        endpoints = WebhookEndpoint.objects.filter(user_id__in=hooked, enabled=True).only(
            "id", "user_id", "events")
        deliveries.extend(
            Delivery(notification=notification, user_id=endpoint.user_id,
                     channel=Channel.WEBHOOK, endpoint=endpoint, next_attempt_at=now)
            for endpoint in endpoints if endpoint.wants(notification.event_type)
        )
    return deliveries


def address_notification(notification: Notification) -> Addressed:
    """Put the notification in the feeds, and write its email and webhook deliveries.

    Call inside the notification's transaction: a delivery is stored exactly when its
    notification is, and the outbox sends it after the commit (pipeline.py).
    """
    organization_id = notification.rack.organization_id
    members = _members(organization_id)
    wanted = members_channels_wanted(
        organization_id, [member.user_id for member in members], notification)
    readers = [member.user_id for member in members
               if Channel.IN_APP in wanted[member.user_id]]
    _put_in_feeds(notification, readers)
    deliveries = _deliveries(notification, members, wanted)
    if not deliveries:
        return Addressed(readers=readers)
    Delivery.objects.bulk_create(deliveries)  # sets their ids (PostgreSQL, SQLite)
    return Addressed(readers=readers, pending=[
        delivery.pk for delivery in deliveries if delivery.status == DeliveryStatus.PENDING])
