"""What the console's emails say, and sending them through Django's email framework."""

from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

from notifications.catalogue import BY_KEY
from notifications.links import notification_page
from notifications.models import Delivery, Notification, WebhookEndpoint

SUBJECT_MAX = 150


def notification_link(notification: Notification | None) -> str:
    """Where a notification is seen in the console (notifications.links): a failed build's
    logs, a release on its app's page, the app, else the rack."""
    if notification is None:
        return f"{settings.CONSOLE_URL}/settings/webhooks/"
    return settings.CONSOLE_URL + notification_page(notification)


def mail_connection() -> BaseEmailBackend:
    """A connection to the mail server; one can carry many messages."""
    # A mail server that never answers must not hold a delivery past its lease.
    return get_connection(timeout=settings.EMAIL_TIMEOUT)


def _message(to: str, subject: str, template: str, context: dict) -> EmailMultiAlternatives:
    context = {**context, "console_url": settings.CONSOLE_URL,
               "preferences_url": f"{settings.CONSOLE_URL}/settings/notifications/"}
    text = render_to_string(f"email/{template}.txt", context)
    html = render_to_string(f"email/{template}.html", context)
    subject = " ".join(subject.split())
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    return message


def _send(to: str, subject: str, template: str, context: dict) -> None:
    mail_connection().send_messages([_message(to, subject, template, context)])


def _entry(notification: Notification) -> dict:
    kind = BY_KEY[notification.event_type]
    object_id = notification.object_id
    data = notification.data if isinstance(notification.data, dict) else {}
    reason = data.get("message", "") if notification.severity == "error" else ""
    return {"notification": notification, "title": kind.title,
            "meaning": notification.meaning,
            "object": kind.object if object_id else "", "object_id": object_id,
            "reason": reason if isinstance(reason, str) else "",
            "severity": notification.severity, "link": notification_link(notification)}


def notification_email(delivery: Delivery) -> EmailMultiAlternatives:
    notification = delivery.notification
    return _message(delivery.user.email, notification.message, "notification",
                    {"user": delivery.user, **_entry(notification)})


def send_digest_email(user, notifications: Sequence[Notification]) -> None:
    count = len(notifications)
    subject = f"[Rack Console] {count} notification{'s' if count != 1 else ''}"
    _send(user.email, subject, "digest",
          {"user": user, "entries": [_entry(n) for n in notifications], "count": count})


def send_endpoint_disabled_email(endpoint: WebhookEndpoint) -> None:
    _send(endpoint.user.email, "[Rack Console] A webhook of yours was disabled",
          "endpoint_disabled",
          {"user": endpoint.user, "endpoint": endpoint,
           "settings_link": f"{settings.CONSOLE_URL}/settings/webhooks/{endpoint.pk}/"})
