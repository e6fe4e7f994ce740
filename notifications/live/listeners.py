"""What the live feed does when something happens elsewhere in the console.

A build changed, or an app's status or formation: the pages watching it are told. A user
logged out, or their credentials were revoked: their sockets are closed
(notifications.live.push.disconnect_user and disconnect_token).
"""

from django.contrib.auth.signals import user_logged_out
from django.db import transaction

from notifications.live.push import (
    broadcast_app,
    broadcast_build,
    disconnect_token,
    disconnect_user,
)
from racks.accounts import credentials_revoked
from racks.models import App, Build
from racks.signals import app_changed, build_changed


def _build_changed(sender: object, build: Build, appended_logs: str, **kwargs: object) -> None:
    broadcast_build(build, appended_logs)


def _app_changed(sender: object, app: App, **kwargs: object) -> None:
    broadcast_app(app)


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


def connect_signals() -> None:
    build_changed.connect(_build_changed, dispatch_uid="live-build-changed")
    app_changed.connect(_app_changed, dispatch_uid="live-app-changed")
    user_logged_out.connect(_user_logged_out, dispatch_uid="live-close-on-logout")
    credentials_revoked.connect(_credentials_revoked, dispatch_uid="live-close-on-revoke")
