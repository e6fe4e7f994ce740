"""The public shape of a notification, as the API, the websocket, webhooks and the pages
show it: `item_from_row` is the one place that builds it."""

from datetime import datetime
from typing import Any

from notifications.models import Notification

# The columns of a notification a feed item shows, read as `.values()` rows: a page of 50
# costs one narrow query by primary key and no model instances (see bench/api_bench.py).
ITEM_COLUMNS = ("id", "message", "action", "status", "severity", "event_type", "rack_id",
                "rack__name", "app", "data", "source", "actor", "occurred_at", "created_at")


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def item_from_row(row: dict[str, Any], *, read: bool) -> dict[str, Any]:
    """The item of an ITEM_COLUMNS row of a notification, with the reader's read state."""
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
        "actor": row["actor"],
        "occurred_at": _when(row["occurred_at"]),
        "created_at": _when(row["created_at"]),
        "read": read,
    }


def _column(notification: Notification, column: str) -> Any:
    """An ITEM_COLUMNS value read from the instance: "rack__name" is notification.rack.name."""
    value: Any = notification
    for name in column.split("__"):
        value = getattr(value, name)
    return value


def notification_item(notification: Notification, *, read: bool = False) -> dict[str, Any]:
    """The item of a notification already in memory (its rack loaded or loadable)."""
    return item_from_row({column: _column(notification, column) for column in ITEM_COLUMNS},
                         read=read)
