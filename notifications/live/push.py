"""Sending to the browsers: the one module that talks to the channel layer's groups.

Each organization has a group, which each web process joins once while it has a socket
of that organization open (notifications.live.fanout); one message per notification
carries the item and the users whose feed holds it, and each process hands it to those
users' sockets. Each user has a group (their unread count, closing their sockets), and
so has each API token.

Pages that show one object (a build, an app, a rack) watch it: their socket joins that
object's group (`build_group`, `app_group`, `rack_group`), not the organization's
fan-out, and `broadcast_build` sends a build's status and the logs it gained to its group
and its app's group; `broadcast_notification` pings the app's and the rack's groups so
their pages refresh their timeline and activity, and `broadcast_app` the app's group so
its page refreshes the app's status and formation.

What is sent is decided elsewhere (the unread count in notifications.unread); how a
synchronous caller reaches the layer is notifications.live.layer.
"""

import hashlib
import logging
import re
from typing import Any

from console import tracing
from notifications.items import notification_item
from notifications.live import layer
from notifications.models import Notification
from racks.models import App, Build

log = logging.getLogger(__name__)


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


def rack_group(rack_id: int) -> str:
    """The sockets of the pages that show one rack."""
    return f"rack.{rack_id}"


def app_group(rack_id: int, name: str) -> str:
    """The sockets of the pages that show one app."""
    if not _GROUP_SAFE_NAME.match(name):
        name = "h" + hashlib.sha256(name.encode()).hexdigest()[:40]
    return f"app.{rack_id}.{name}"


def broadcast_notification(notification: Notification, users: list[int]) -> None:
    """Push a committed notification to every browser of `users`, the users whose feed
    holds it (the pipeline passes those it put it in the feed of), and tell the pages of
    its rack and app that it happened."""
    try:
        if users:
            layer.send(org_group(notification.rack.organization_id), {
                "type": "feed.notification",
                "organization": notification.rack.organization_id,
                "item": notification_item(notification),
                "users": users,
                "request_id": tracing.request_id.get(),  # the push's log lines carry it
            })
        # The rack's and the app's pages show their history and activity, which hold it
        # even when no reader's feed does: they are told to refresh them.
        layer.send(rack_group(notification.rack_id),
                   {"type": "feed.rack", "notification": notification.pk})
        if notification.app:
            layer.send(app_group(notification.rack_id, notification.app),
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
            layer.send(group, message)
        except Exception:
            # The build is stored; a page opened or reloaded later shows it.
            log.exception("live update of build %s failed", build.id)


def broadcast_app(app: App) -> None:
    """Tell the pages watching an app that its status or formation changed: they re-read
    those parts (a change a rack reports without a notification, found by a sync or a
    promote followed)."""
    try:
        layer.send(app_group(app.rack_id, app.name),
                   {"type": "feed.app_state", "status": app.status})
    except Exception:
        log.exception("live update of app %s failed", app.pk)


def broadcast_unread_count(user_id: int, count: int, counted: list[int]) -> None:
    """Send a user's browsers an exact unread count (notifications.unread.UnreadState)."""
    try:
        layer.send(user_group(user_id), {"type": "feed.unread", "count": count,
                                         "counted": counted})
    except Exception:
        log.exception("live unread count for user %s failed", user_id)


def disconnect_user(user_id: int) -> None:
    """Close every socket of a user (logged out, or removed from an organization).

    Their pages reconnect: a socket still logged in picks up its current organizations,
    one whose session ended is refused.
    """
    try:
        layer.send(user_group(user_id), {"type": "feed.disconnect"})
    except Exception:
        log.exception("closing sockets of user %s failed", user_id)


def disconnect_token(token_id: str) -> None:
    """Close every socket opened with an API token that was revoked: for good (4401)."""
    try:
        layer.send(token_group(token_id), {"type": "feed.disconnect", "code": 4401})
    except Exception:
        log.exception("closing sockets of token %s failed", token_id)
