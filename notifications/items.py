"""The public shape of a notification, as the API, the websocket and webhooks send it."""

from datetime import datetime
from typing import Any

from notifications.models import Notification

# The columns of a notification a feed item shows, read as `.values()` rows: a page of 50
# costs one narrow query by primary key and no model instances (see bench/api_bench.py).
ITEM_COLUMNS = ("id", "message", "action", "status", "severity", "event_type", "rack_id",
                "rack__name", "app", "data", "source", "occurred_at", "created_at")


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def notification_item(notification: Notification, *, read: bool = False) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "message": notification.message,
        "action": notification.action,
        "status": notification.status,
        "severity": notification.severity,
        "event_type": notification.event_type,
        "rack": notification.rack_id,
        "rack_name": notification.rack.name,
        "app": notification.app,
        "data": notification.data,
        "source": notification.source,
        "occurred_at": _when(notification.occurred_at),
        "created_at": _when(notification.created_at),
        "read": read,
    }


def item_from_row(row: dict[str, Any], *, read: bool) -> dict[str, Any]:
    """notification_item's dict, from an ITEM_COLUMNS row (tests hold the two equal)."""
    return {
        "id": row["id"],
        "message": row["message"],
        "action": row["action"],
        "status": row["status"],
        "severity": row["severity"],
        "event_type": row["event_type"],
        "rack": row["rack_id"],
        "rack_name": row["rack__name"],
        "app": row["app"],
        "data": row["data"],
        "source": row["source"],
        "occurred_at": _when(row["occurred_at"]),
        "created_at": _when(row["created_at"]),
        "read": read,
    }
