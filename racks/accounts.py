"""Credentials: API tokens (knox's, with a name, an expiry and when last used), websocket
tickets, and what a password change revokes.

Every change goes through a function here. When credentials stop being valid (a token
revoked, every credential of a user after a password change), `credentials_revoked` is
sent after the commit; the live feed (notifications.live.push) closes the sockets opened with
them. racks does not reach into notifications for it.
"""

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver
from django.utils import timezone
from knox.models import AuthToken

from racks.models import TokenDetails

# Sent after the commit with user_id and token_ids: the ids of the tokens revoked, or
# None when every credential of the user was (a password change).
credentials_revoked = Signal()

# last_used_at is written at most this often per token: not a write on every request.
LAST_USED_EVERY = timedelta(seconds=60)

TOKEN_ID_RE = re.compile(r"[0-9a-f]{16}")

WS_TICKET_SECONDS = 30
_TICKET_PREFIX = "ws-ticket:"


def token_id(token: AuthToken) -> str:
    """The id a token is listed and revoked by: the start of its digest (never the key)."""
    return token.digest[:16]


@receiver(post_save, sender=AuthToken, dispatch_uid="racks-token-details")
def _give_token_details(sender: type, instance: AuthToken, created: bool,
                        **kwargs: Any) -> None:
    # However a token is made, it has its details row, so last_used_at can be written.
    if created:
        TokenDetails.objects.create(token=instance)


def validate_token_days(days: int) -> None:
    """How long a token may last: from a day to API_TOKEN_MAX_DAYS (the API and the page)."""
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError(f"A token lasts from 1 to {settings.API_TOKEN_MAX_DAYS} days.")


def issue_token(user: Any, *, name: str = "", days: int | None = None) -> tuple[AuthToken, str]:
    """A new API token of the user, valid `days` days (API_TOKEN_DEFAULT_DAYS when None).
    Returns the token and its key, which is shown once and stored only hashed.

    The caller has checked `days` with validate_token_days.
    """
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    with transaction.atomic():
        token, key = AuthToken.objects.create(user, expiry=timedelta(days=days))
        TokenDetails.objects.filter(pk=token.pk).update(name=name)
    return token, key


def tokens_of(user: Any) -> QuerySet[AuthToken]:
    """The user's tokens that still work, with their details."""
    return (AuthToken.objects.filter(user=user)
            .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
            .select_related("details"))


def _after_commit_revoked(user_id: int, token_ids: list[str] | None) -> None:
    transaction.on_commit(lambda: credentials_revoked.send(
        sender=AuthToken, user_id=user_id, token_ids=token_ids))


def revoke_token(user: Any, token_id_: str) -> bool:
    """Revoke one of the user's tokens by its id; False when they have no such token."""
    if not TOKEN_ID_RE.fullmatch(token_id_):  # "" would match every token of the user
        return False
    deleted, _ = AuthToken.objects.filter(user=user, digest__startswith=token_id_).delete()
    if deleted:
        _after_commit_revoked(user.pk, [token_id_])
    return bool(deleted)


def revoke_credentials(user: Any) -> None:
    """After a password change: every API token of the user goes, and their sockets close.

    Their other sessions already stop working: Django keeps a hash of the password in each
    session and refuses a session whose hash no longer matches; the session that changed
    the password is kept by update_session_auth_hash (the views and the admin call it).
    """
    deleted, _ = AuthToken.objects.filter(user_id=user.pk).delete()
    # A socket needs a token or a session (a session login sets last_login): a user who
    # has neither, such as one being created, has none to close.
    if deleted or user.last_login is not None:
        _after_commit_revoked(user.pk, None)


class RevokeCredentialsOnPasswordChange:
    """A password "validator" that validates nothing: Django calls `password_changed()`
    of every validator whenever a user is saved with a new password, whichever path set
    it (the password change and reset views, the admin, `manage.py changepassword`)."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            revoke_credentials(user)

    def get_help_text(self) -> str:
        # Shown under every password field with the rules: worth knowing before a change.
        return "Each change of password signs you out everywhere else and revokes your API tokens."


def note_token_used(token: AuthToken) -> None:
    """Write the token's last_used_at, unless that was done within the last minute.

    The caller read the details row with the token (console.rest.authentication), so a
    token used within the minute costs no query; the UPDATE's condition keeps
    concurrent requests from writing it twice.
    """
    now = timezone.now()
    details = getattr(token, "details", None)
    if details is not None and details.last_used_at and details.last_used_at > now - \
            LAST_USED_EVERY:
        return
    TokenDetails.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now)


# Websocket tickets: a short-lived, single-use stand-in for a token in a websocket URL,
# where a long-lived token would end up in proxy logs.


def _ticket_key(ticket: str) -> str:
    return _TICKET_PREFIX + hashlib.sha256(ticket.encode("utf-8", "replace")).hexdigest()


def issue_ws_ticket(user: Any, token: AuthToken | None = None) -> str:
    """A ticket for `?ticket=` on the websocket: valid WS_TICKET_SECONDS, used once. A
    ticket asked for with a token stands for that token (its socket closes with it)."""
    ticket = secrets.token_urlsafe(32)
    cache.set(_ticket_key(ticket), {"user": user.pk, "token": token.digest if token else None},
              timeout=WS_TICKET_SECONDS)
    return ticket


def take_ws_ticket(ticket: str) -> tuple[Any, AuthToken | None] | None:
    """The active user (and token) a ticket stands for, or None. A ticket is taken once:
    of two sockets presenting it at the same moment, only the one whose delete removed
    it gets in."""
    key = _ticket_key(ticket)
    held = cache.get(key)
    if not held or not cache.delete(key):
        return None
    if held["token"]:
        token = (AuthToken.objects.filter(digest=held["token"])
                 .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
                 .select_related("user").first())
        if token is None or not token.user.is_active:
            return None
        return token.user, token
    user = get_user_model().objects.filter(pk=held["user"], is_active=True).first()
    return (user, None) if user is not None else None
