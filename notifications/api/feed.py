"""The feed API: a user's notifications, newest first, and their read state; and a
rack's history, which every member of its organization reads whatever their feed holds."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from console import metrics
from console.bounds import DB_INT_MAX
from console.rest.common import StrictJSONParser, errors
from console.rest.pages import Pages
from notifications import feed, unread
from notifications.api.serializers import (
    HistoryItemSerializer,
    MarkedAmongSerializer,
    MarkedSerializer,
    NotificationIdsSerializer,
    NotificationItemSerializer,
    UnreadCountSerializer,
)
from notifications.catalogue import EVENT_TYPES
from notifications.history import HISTORY_COLUMNS, history, history_item
from notifications.models import FeedEntry, Notification
from racks.models import Rack
from racks.permissions import rack_for

# The feed's filters speak of the catalogue's event types, as the settings page does.
EVENT_TYPE_CHOICES = [(t.key, t.title) for t in EVENT_TYPES]


class IntegerFilter(django_filters.Filter):
    field_class = forms.IntegerField


def _app_filter(field: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field, max_length=100, lookup_expr="icontains",
                                     help_text="Only apps whose name contains this, in any "
                                               "case.")


def _action_filter(field: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field, max_length=100,
                                     help_text="Only this action, e.g. `build:create`.")


def _status_filter(field: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field, max_length=20,
                                     help_text="Only this status, e.g. `error`.")


def _event_type_filter(field: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        field_name=field, choices=EVENT_TYPE_CHOICES,
        help_text="Only this event type of the catalogue, e.g. `build:failed`.")


# The filters of a feed and of a rack's history are the same on a notification's own
# fields; the feed reaches them through its entry's notification.


class FeedFilter(django_filters.FilterSet):
    rack = IntegerFilter(field_name="notification__rack_id", min_value=1, max_value=DB_INT_MAX,
                         help_text="Only this rack's notifications.")
    app = _app_filter("notification__app")
    action = _action_filter("notification__action")
    status = _status_filter("notification__status")
    event_type = _event_type_filter("notification__event_type")
    unread = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_unread",
        help_text="`true`: only unread notifications; `false`: only read ones.")

    class Meta:
        model = FeedEntry
        fields = ["rack", "app", "action", "status", "event_type", "unread"]

    def filter_unread(self, queryset: QuerySet[FeedEntry], name: str,
                      value: str) -> QuerySet[FeedEntry]:
        return queryset.filter(read=value != "true")


FEED_FILTERS = frozenset(FeedFilter.base_filters)


class FeedPages(Pages):
    """Pages by notification id, newest first: a page deep in the feed costs the same as
    the first (an index range on feed_entry_once_per_user, read backwards; never an
    OFFSET)."""

    ordering = "-notification_id"

    def get_paginated_response(self, data: list) -> Response:
        page = super().get_paginated_response(data)
        # How far back the feed reaches: older notifications are pruned.
        page.data["retention_days"] = settings.NOTIFICATION_RETENTION_DAYS
        return page

    def get_paginated_response_schema(self, schema: dict) -> dict:
        shape = super().get_paginated_response_schema(schema)
        shape["properties"]["retention_days"] = {
            "type": "integer", "example": 90,
            "description": "Notifications older than this many days are deleted."}
        return shape


READ_ERRORS = errors(401, 404)


@extend_schema_view(
    list=extend_schema(summary="Your feed, newest first", tags=["notifications"],
                       responses={200: NotificationItemSerializer(many=True),
                                  **errors(400, 401, 404)},
                       description="404 for a cursor that cannot be read."),
    retrieve=extend_schema(summary="One notification of your feed", tags=["notifications"],
                           responses={200: NotificationItemSerializer, **READ_ERRORS}),
)
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = NotificationItemSerializer
    filterset_class = FeedFilter
    pagination_class = FeedPages
    parser_classes = [StrictJSONParser]
    lookup_field = "notification_id"
    lookup_url_kwarg = "pk"

    def get_queryset(self) -> QuerySet[FeedEntry]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return FeedEntry.objects.none()
        if self.action == "list":
            return feed_rows(self.request.user)
        return FeedEntry.objects.filter(user=self.request.user).select_related(
            "notification__rack")

    def list(self, request: Request) -> Response:
        with metrics.timed("feed"):
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            return self.get_paginated_response(feed.page_items(page))

    def entry(self) -> FeedEntry:
        found = FeedEntry.objects.select_related("notification__rack").filter(
            user=self.request.user, notification_id=self.kwargs["pk"]).first()
        if found is None:
            raise Http404("No such notification in your feed.")
        return found

    @extend_schema(request=None, responses={200: NotificationItemSerializer, **READ_ERRORS},
                   summary="Mark a notification read", tags=["notifications"])
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: int) -> Response:
        entry = self.entry()
        feed.mark_read(entry)
        return Response(NotificationItemSerializer(entry).data)

    @extend_schema(request=None, responses={200: NotificationItemSerializer, **READ_ERRORS},
                   summary="Mark a notification unread", tags=["notifications"])
    @action(detail=True, methods=["post"])
    def unread(self, request: Request, pk: int) -> Response:
        entry = self.entry()
        feed.mark_unread(entry)
        return Response(NotificationItemSerializer(entry).data)

    @extend_schema(request=None, responses={200: MarkedAmongSerializer, **errors(400, 401)},
                   summary="Mark read what you are shown", tags=["notifications"],
                   filters=True,
                   description="Your whole feed, or with the list's filters (`rack`, `app`, "
                               "`action`, `status`) only what they match. The answer lists "
                               "the ids it marked, for an undo.")
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        ids = feed.mark_read_among(request.user.pk, shown_entries(request))
        return Response({"marked": len(ids), "count": unread.unread_count(request.user.pk),
                         "ids": ids if len(ids) <= feed.undo_max() else None})

    @extend_schema(request=NotificationIdsSerializer,
                   responses={200: MarkedSerializer, **errors(400, 401)},
                   summary="Mark these notifications unread (undo a read-all)",
                   operation_id="v1_notifications_unread_among",
                   tags=["notifications"], filters=False,
                   description="Ids not in your feed are ignored.")
    @action(detail=False, methods=["post"], url_path="unread")
    def unread_among(self, request: Request) -> Response:
        asked = NotificationIdsSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        changed = feed.mark_unread_among(request.user.pk, asked.validated_data["ids"])
        return Response({"marked": changed, "count": unread.unread_count(request.user.pk)})

    @extend_schema(responses={200: UnreadCountSerializer, **errors(400, 401)},
                   summary="How many notifications you have not read",
                   tags=["notifications"], filters=True,
                   description="All of them, or with the list's filters (`rack`, `app`, "
                               "`action`, `status`, `event_type`) those they match: what a "
                               "mark-all-read with the same filters would mark.")
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        if FEED_FILTERS.isdisjoint(request.query_params):
            return Response({"count": unread.unread_count(request.user.pk)})
        entries = shown_entries(request).filter(user_id=request.user.pk, read=False)
        return Response({"count": entries.count()})


def shown_entries(request: Request) -> QuerySet[FeedEntry]:
    """Every feed's entries, or those the request's list filters match (a 400 for filters
    that cannot be read); the caller narrows them to its user's."""
    entries = FeedEntry.objects.all()
    if FEED_FILTERS.isdisjoint(request.query_params):
        return entries
    shown = FeedFilter(request.query_params, queryset=entries)
    if not shown.is_valid():
        raise ValidationError(shown.errors)
    return shown.qs



def feed_rows(user: AbstractBaseUser) -> QuerySet[FeedEntry]:
    """The user's feed as the list reads it: entry rows, made items by feed.page_items."""
    return FeedEntry.objects.filter(user=user).values("notification_id", "read")


# A rack's history


class HistoryFilter(django_filters.FilterSet):
    app = _app_filter("app")
    action = _action_filter("action")
    status = _status_filter("status")
    event_type = _event_type_filter("event_type")
    unread = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_unread",
        help_text="`true`: only those unread in your feed; `false`: all the others.")

    class Meta:
        model = Notification
        fields = ["app", "action", "status", "event_type", "unread"]

    def filter_unread(self, queryset: QuerySet[Notification], name: str,
                      value: str) -> QuerySet[Notification]:
        if value == "true":
            return queryset.filter(read_state=False)
        return queryset.filter(Q(read_state=True) | Q(read_state__isnull=True))


class HistoryPages(Pages):
    """Newest first by id, like the feed: notification_rack_idx or
    notification_rack_app_idx read backwards."""

    ordering = "-id"


@extend_schema(summary="A rack's notifications, newest first", tags=["notifications"],
               responses={200: HistoryItemSerializer(many=True), **errors(400, 401, 404)},
               description="Every notification of the rack (of one app with `?app=`), for "
                           "every member of its organization whenever they joined; `read` "
                           "is yours where the notification is in your feed (`in_feed`). "
                           "404 for a rack not in your organizations or a cursor that "
                           "cannot be read.")
class RackHistoryView(generics.ListAPIView):
    serializer_class = HistoryItemSerializer
    filterset_class = HistoryFilter
    pagination_class = HistoryPages

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Notification.objects.none()
        rack, _ = rack_for(self.request.user, self.kwargs["rack_id"])
        return history_rows(rack, self.request.user)

    def list(self, request: Request, rack_id: int) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([history_item(row) for row in page])


def history_rows(rack: Rack, user: AbstractBaseUser) -> QuerySet[Notification]:
    """The rack's history as the list reads it: rows made items by history_item."""
    return history(rack, user).values(*HISTORY_COLUMNS)


# The same pages for the console's own pages


@dataclass(frozen=True)
class ShownPage:
    """One page of a feed or a rack's history, as the API would answer the query string."""

    items: list[dict[str, Any]]
    # The query string of the next page (its `cursor` and the filters), or "".
    older: str = ""
    # Why the filters cannot be read, for the person who typed them; "" when they can.
    refused: str = ""

    @property
    def cursor(self) -> str:
        return parse_qs(self.older).get("cursor", [""])[0]


def shown_page(request: HttpRequest, rack: Rack | None = None) -> ShownPage:
    """The page of the user's feed (of `rack`'s history) that `request`'s query string
    asks for: the filters, pages and items of the API's list, so a page rendered by the
    server shows what the API shows. Raises Http404 for a cursor that cannot be read."""
    if rack is None:
        filters: django_filters.FilterSet = FeedFilter(request.GET, queryset=feed_rows(
            request.user))
        pages: Pages = FeedPages()
    else:
        filters = HistoryFilter(request.GET, queryset=history_rows(rack, request.user))
        pages = HistoryPages()
    if not filters.is_valid():
        return ShownPage([], refused=" ".join(
            f"{name}: {' '.join(problems)}" for name, problems in filters.errors.items()))
    try:
        rows = pages.paginate_queryset(filters.qs, Request(request))
    except NotFound:
        raise Http404("That page of the notifications cannot be read.") from None
    items = feed.page_items(rows) if rack is None else [history_item(row) for row in rows]
    following = pages.get_next_link()
    return ShownPage(items, older=urlsplit(following).query if following else "")
