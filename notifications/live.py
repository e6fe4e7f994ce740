"""The one helper that pushes committed notifications to browsers.

Nobody else calls the channel layer. Each organization has a group; one message per
notification carries the item and, for each user it is addressed to, their new unread
count, so 1,000 open browsers cost one `group_send`, not 1,000.
"""

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models import Count

from notifications.items import notification_item
from notifications.models import FeedEntry, Notification

log = logging.getLogger(__name__)

# The embedded default keeps the channel layer in memory, bound to the web server's event
# loop; a worker thread in the same process must hand its sends to that loop.
_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def org_group(organization_id: int) -> str:
    return f"org.{organization_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    in_memory = type(layer).__name__ == "InMemoryChannelLayer"
    if in_memory and loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.result(timeout=5)
            return
    async_to_sync(layer.group_send)(group, message)


def unread_counts(user_ids: list[int]) -> dict[int, int]:
    counts = dict.fromkeys(user_ids, 0)
    rows = (FeedEntry.objects.filter(user_id__in=user_ids, read=False)
            .values("user_id").annotate(n=Count("id")).values_list("user_id", "n"))
    counts.update(rows)
    return counts


def broadcast_notification(notification_id: int) -> None:
    """Push a committed notification to every browser of every user whose feed holds it."""
    notification = Notification.objects.select_related("rack").filter(
        pk=notification_id).first()
    if notification is None:
        return
    users = list(FeedEntry.objects.filter(notification_id=notification_id)
                 .values_list("user_id", flat=True))
    if not users:
        return
    message = {
        "type": "feed.notification",
        "item": notification_item(notification),
        "unread": {str(uid): n for uid, n in unread_counts(users).items()},
    }
    try:
        _send(org_group(notification.rack.organization_id), message)
    except Exception:
        # The notification is stored; a browser that missed the push catches up on resume.
        log.exception("live push of notification %s failed", notification_id)


def broadcast_unread_count(user_id: int) -> None:
    """Tell a user's browsers their unread count after they read or unread something."""
    count = unread_counts([user_id])[user_id]
    try:
        _send(user_group(user_id), {"type": "feed.unread", "count": count})
    except Exception:
        log.exception("live unread count for user %s failed", user_id)


def disconnect_user(user_id: int) -> None:
    """Close every socket of a user (logged out, or removed from an organization).

    Their pages reconnect: a socket still logged in picks up its current organizations,
    one whose session ended is refused.
    """
    try:
        _send(user_group(user_id), {"type": "feed.disconnect"})
    except Exception:
        log.exception("closing sockets of user %s failed", user_id)


def _user_logged_out(sender: object, request: object, user: object, **kwargs: object) -> None:
    if user is not None and getattr(user, "pk", None) is not None:
        transaction.on_commit(lambda: disconnect_user(user.pk))


def connect_signals() -> None:
    user_logged_out.connect(_user_logged_out, dispatch_uid="live-close-on-logout")
