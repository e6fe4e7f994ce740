"""Shapes more than one API view uses: the feed item as the API documents it (the same
dict as notifications.items builds) and the event types a rule or a webhook may name."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from console.bounds import DB_INT_MAX
from notifications.catalogue import EVENT_TYPES, Severity
from notifications.items import notification_item
from notifications.models import ANY_EVENT_TYPE, FeedEntry, Source

# What a preference rule or a webhook's event list may name: a catalogue key, or "*".
EVENT_CHOICES = [ANY_EVENT_TYPE, *(t.key for t in EVENT_TYPES)]


class NotificationItemSerializer(serializers.Serializer):
    """A notification in the caller's feed, with their read state.

    The fields are declared for the schema; the output is `notification_item`, the one
    shape the API, the websocket and webhooks share.
    """

    id = serializers.IntegerField()
    message = serializers.CharField(help_text="The catalogue's line, e.g. "
                                              "`[rack1] Created app demo`.")
    action = serializers.CharField(help_text="The rack event's action, e.g. `app:create`.")
    status = serializers.CharField(help_text="`success`, `error`, `start`, ...")
    severity = serializers.ChoiceField(choices=Severity.choices)
    event_type = serializers.CharField(help_text="The catalogue entry, e.g. `build:failed`.")
    rack = serializers.IntegerField(help_text="The rack's id.")
    rack_name = serializers.CharField()
    app = serializers.CharField(allow_blank=True)
    data = serializers.DictField(child=serializers.CharField(allow_blank=True))
    source = serializers.ChoiceField(
        choices=Source.choices,
        help_text="`console`: caused by an action in the console; `rack`: sent by the rack.")
    actor = serializers.CharField(
        allow_blank=True,
        help_text="Who caused it: the username of the console user who acted, or the "
                  "`data.actor` a v3 rack sends; empty when unknown.")
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()

    def to_representation(self, entry: FeedEntry) -> dict[str, Any]:
        return notification_item(entry.notification, read=entry.read)


class HistoryItemSerializer(NotificationItemSerializer):
    """A notification of a rack's history: the feed item, and whether it is in your feed
    (only then can you mark it read or unread; outside it, it reads as read)."""

    in_feed = serializers.BooleanField()


class UnreadCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications changed to read.")
    count = serializers.IntegerField(help_text="Your unread count now.")


class MarkedAmongSerializer(MarkedSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True,
        help_text=f"The notifications it marked, to undo it (`POST "
                  f"/api/v1/notifications/unread/`); null when more than "
                  f"{settings.MARK_ALL_READ_UNDO_MAX} (the setting MARK_ALL_READ_UNDO_MAX).")


class NotificationIdsSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_INT_MAX),
        max_length=settings.MARK_ALL_READ_UNDO_MAX, help_text="Notification ids of your feed.")
