"""The one helper that pushes committed notifications to browsers.

Nobody else calls the channel layer. Each organization has a group, which each web process
joins once while it has a socket of that organization open (notifications.live.fanout); one
message per notification carries the item and the users whose feed holds it, and each
process hands it to those users' sockets.

Unread counts are not counted per notification (that is a scan of every unread entry of
every member, and it grows with the backlog): each socket counts once when it connects and
when it resumes, adds one for each new notification of its user, and takes the exact count
that `broadcast_unread_count` sends after every read or unread.

Pages that show one object (a build, an app) watch it: their socket joins that object's
group (`build_group`, `app_group`), not the organization's fan-out, and
`broadcast_build` sends a build's status and the logs it gained to its group and its
app's group; `broadcast_notification` pings the app's group so the app page refreshes its
timeline.

Synchronous callers (views, Celery tasks) send through one long-lived event loop thread
per process, so the Redis connection is reused and no loop is created and closed per
message (the "event loop is closed" trap of `async_to_sync` in workers).
"""

import asyncio
import hashlib
import logging
import os
import re
import threading
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from console import tracing
from notifications.items import notification_item
from notifications.models import FeedEntry, Notification
from racks.accounts import credentials_revoked
from racks.models import Build
from racks.signals import build_changed

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5

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


def token_group(token_id: str) -> str:
    """The sockets opened with one API token (or a ticket asked for with it)."""
    return f"token.{token_id}"


def build_group(build_id: str) -> str:
    """The sockets of the pages that show one build."""
    return f"build.{build_id}"


# Group names allow ASCII letters, digits, "-", "_" and "." below 100 characters; a real
# rack's app name outside those is hashed rather than refused.
_GROUP_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


def app_group(rack_id: int, name: str) -> str:
    """The sockets of the pages that show one app."""
    if not _GROUP_SAFE_NAME.match(name):
        name = "h" + hashlib.sha256(name.encode()).hexdigest()[:40]
    return f"app.{rack_id}.{name}"


_sender_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process' sending loop, started on first use (and again after a fork)."""
    global _sender_loop
    with _loop_lock:
        if _sender_loop is None or not _sender_loop.is_running() or \
                getattr(_sender_loop, "_owner_pid", None) != os.getpid():
            loop = asyncio.new_event_loop()
            loop._owner_pid = os.getpid()  # type: ignore[attr-defined]
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()
            threading.Thread(target=run, name="live-sender", daemon=True).start()
            started.wait(5)
            _sender_loop = loop
        return _sender_loop


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if type(layer).__name__ == "InMemoryChannelLayer":
        # Its queues live on the web server's loop; worker threads hand the send to it.
        loop = _server_loop
        if loop is None or not loop.is_running():
            async_to_sync(layer.group_send)(group, message)  # nobody is connected here
            return
    else:
        loop = _background_loop()

    def send() -> None:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(
            timeout=SEND_TIMEOUT_SECONDS)
    try:
        send()
    except RedisConnectionError:
        # After Redis restarts, the first command on each pooled connection fails and
        # the pool reconnects: a socket that stayed open would silently miss this push.
        send()


def unread_count(user_id: int) -> int:
    # Served by the partial index feed_user_unread_idx.
    return FeedEntry.objects.filter(user_id=user_id, read=False).count()


# A notification pushed within this long of its commit may reach a socket after a count
# that already holds it.
IN_FLIGHT = timedelta(seconds=30)
IN_FLIGHT_MAX = 100


def unread_state(user_id: int) -> tuple[int, list[int]]:
    """The unread count for a socket, and the newest notifications it already holds.

    A socket adds one to its count for each notification pushed to it. One committed
    just before an exact count but pushed just after it would be counted twice: the
    socket skips the ones listed here. Both come from one statement, so from one
    snapshot: read apart, a notification committing in between would be in one and not
    the other. The count is unread_count's (the partial index), the newest are read
    from the (user, notification) index.
    """
    table = connection.ops.quote_name(FeedEntry._meta.db_table)
    since = connection.ops.adapt_datetimefield_value(timezone.now() - IN_FLIGHT)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, count(*) FROM {table} WHERE user_id = %s AND NOT read "
            "UNION ALL SELECT 1, notification_id FROM (SELECT notification_id, created_at "
            f"FROM {table} WHERE user_id = %s ORDER BY notification_id DESC LIMIT %s) "
            "AS newest WHERE created_at >= %s",
            [user_id, user_id, IN_FLIGHT_MAX, since])
        rows = cursor.fetchall()
    return (next(value for kind, value in rows if kind == 0),
            [value for kind, value in rows if kind == 1])


def broadcast_notification(notification: Notification, users: list[int]) -> None:
    """Push a committed notification to every browser of `users`, the users whose feed
    holds it (the pipeline passes those it put it in the feed of)."""
    if not users:
        return
    message = {
        "type": "feed.notification",
        "organization": notification.rack.organization_id,
        "item": notification_item(notification),
        "users": users,
        "request_id": tracing.request_id.get(),  # the push's log lines carry it
    }
    try:
        _send(org_group(notification.rack.organization_id), message)
        if notification.app:
            # The app's page shows the app's history, which holds it even for readers
            # whose feed does not: it is told to refresh its timeline.
            _send(app_group(notification.rack_id, notification.app),
                  {"type": "feed.app", "notification": notification.pk})
    except Exception:
        # The notification is stored; a browser that missed the push catches up on resume.
        log.exception("live push of notification %s failed", notification.pk)


def build_summary(build: Build) -> dict[str, Any]:
    """What a watching page is told of a build besides its logs."""
    return {
        "id": build.id,
        "app": build.app.name,
        "status": build.status,
        "started_at": build.started_at.isoformat() if build.started_at else None,
        "ended_at": build.ended_at.isoformat() if build.ended_at else None,
    }


def broadcast_build(build: Build, appended_logs: str = "") -> None:
    """Tell the pages watching a build (and its app) its status and the logs it gained.

    Every rack driver calls this as a build's logs grow and its status changes, after the
    change is committed; `appended_logs` is only what was added since the last call.
    """
    message = {"type": "feed.build", "build": build_summary(build), "logs": appended_logs}
    for group in (build_group(build.id), app_group(build.app.rack_id, build.app.name)):
        try:
            _send(group, message)
        except Exception:
            # The build is stored; a page opened or reloaded later shows it.
            log.exception("live update of build %s failed", build.id)


def broadcast_unread_count(user_id: int) -> None:
    """Tell a user's browsers their unread count after they read or unread something."""
    count, held = unread_state(user_id)
    try:
        _send(user_group(user_id), {"type": "feed.unread", "count": count, "held": held})
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


def disconnect_token(token_id: str) -> None:
    """Close every socket opened with an API token that was revoked: for good (4401)."""
    try:
        _send(token_group(token_id), {"type": "feed.disconnect", "code": 4401})
    except Exception:
        log.exception("closing sockets of token %s failed", token_id)


def _user_logged_out(sender: object, request: object, user: object, **kwargs: object) -> None:
    if user is not None and getattr(user, "pk", None) is not None:
        transaction.on_commit(lambda: disconnect_user(user.pk))


def _credentials_revoked(sender: object, user_id: int, token_ids: list[str] | None,
                         **kwargs: object) -> None:
    """Sent after the commit (racks.accounts). A password change closes all the user's
    sockets: those of the session that changed it reconnect, the others (other sessions,
    whose password hash no longer matches, and deleted tokens) are refused."""
    if token_ids is None:
        disconnect_user(user_id)
    else:
        for token_id in token_ids:
            disconnect_token(token_id)


def _build_changed(sender: object, build: Build, appended_logs: str, **kwargs: object) -> None:
    broadcast_build(build, appended_logs)


def connect_signals() -> None:
    build_changed.connect(_build_changed, dispatch_uid="live-build-changed")
    user_logged_out.connect(_user_logged_out, dispatch_uid="live-close-on-logout")
    credentials_revoked.connect(_credentials_revoked, dispatch_uid="live-close-on-revoke")
