"""Changes to a user's webhook endpoints, each through one function named for it."""

import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from console.metrics import ENDPOINTS_DISABLED
from notifications.delivery.emails import send_endpoint_disabled_email
from notifications.delivery.signing import encrypt_secret, new_secret
from notifications.models import DeliveryAttempt, WebhookEndpoint, WebhookFormat

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_USER = 20
# A delivery's attempts, oldest first, fetched for a whole page of deliveries at once.
ATTEMPTS_IN_ORDER = Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("id"))


def endpoint_limit_reached(user: AbstractBaseUser) -> str | None:
    """Why the user may not add another webhook now, or None."""
    if WebhookEndpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS_PER_USER:
        return f"You have {MAX_ENDPOINTS_PER_USER} webhooks already; delete one first."
    return None


def create_endpoint(user: AbstractBaseUser, *, url: str, events: Sequence[str],
                    format: str = WebhookFormat.STANDARD,
                    description: str = "") -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; answers it and its secret, which is shown this once only.

    The URL must already have passed safety.check_url.
    """
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        user=user, url=url, events=list(dict.fromkeys(events)), format=format,
        description=description, secret_encrypted=encrypt_secret(secret),
    )
    return endpoint, secret


def edit_endpoint(endpoint: WebhookEndpoint, *, url: str | None = None,
                  description: str | None = None, format: str | None = None,
                  events: Sequence[str] | None = None) -> None:
    """Change where the endpoint is and what it receives; what is not given stays.

    A new URL must already have passed safety.check_url.
    """
    changes = {"url": url, "description": description, "format": format,
               "events": None if events is None else list(dict.fromkeys(events))}
    changed = [name for name, value in changes.items() if value is not None]
    for name in changed:
        setattr(endpoint, name, changes[name])
    if changed:
        endpoint.save(update_fields=changed)


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """The endpoint goes, with its deliveries and their attempts."""
    endpoint.delete()


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """Give the endpoint a new secret; the old one keeps signing too for the overlap."""
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = timezone.now() + settings.WEBHOOK_SECRET_OVERLAP
    endpoint.secret_encrypted = encrypt_secret(secret)
    endpoint.save(update_fields=["previous_secret_encrypted", "previous_secret_until",
                                 "secret_encrypted"])
    return secret


def enable_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, "", None
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])


def pause_endpoint(endpoint: WebhookEndpoint) -> None:
    """Its owner turns it off; nothing is sent to it until it is enabled again."""
    endpoint.enabled, endpoint.disabled_reason = False, "Disabled by its owner."
    endpoint.save(update_fields=["enabled", "disabled_reason"])


def disable_endpoint(endpoint: WebhookEndpoint, reason: str) -> None:
    """The console turns off an endpoint that cannot receive, and tells its owner."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:300])
    if not changed:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason[:300]
    transaction.on_commit(ENDPOINTS_DISABLED.inc)

    def tell_owner() -> None:
        if not endpoint.user.email:
            return
        try:
            send_endpoint_disabled_email(endpoint)
        except Exception:
            log.exception("telling the owner of endpoint %s it was disabled failed",
                          endpoint.pk)

    transaction.on_commit(tell_owner)


def note_endpoint_success(endpoint: WebhookEndpoint) -> None:
    if endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)


def note_endpoint_failure(endpoint: WebhookEndpoint, *, gone: bool) -> None:
    """Count a failed attempt against the endpoint: 410, or five days of failures, end it."""
    now = timezone.now()
    if gone:
        disable_endpoint(endpoint, "The receiver answered 410 Gone: it no longer wants "
                         "these deliveries.")
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now)
        return
    if endpoint.failing_since <= now - settings.WEBHOOK_DISABLE_AFTER:
        days = settings.WEBHOOK_DISABLE_AFTER.total_seconds() / 86400
        disable_endpoint(endpoint, f"Every delivery to it failed for {days:g} days.")
