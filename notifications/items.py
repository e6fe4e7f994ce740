"""The public shape of a notification, as the API, the websocket and webhooks send it."""

from typing import Any

from notifications.models import Notification


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
        "occurred_at": notification.occurred_at.isoformat().replace("+00:00", "Z"),
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
        "read": read,
    }
