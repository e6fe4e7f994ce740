"""One small sender per kind of delivery.

A webhook sender's `send` posts one delivery through a batch's outbound Client, notes the
bodies sent and received in an Exchange for the delivery log, and returns the receiver's
status code; the email sender's `send` passes one delivery to an open
mail connection. Both raise DeliveryError, which says whether trying again could help.
WEBHOOK_SENDERS maps a webhook format to its class.
"""

import json
import logging
import smtplib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from django.utils import timezone

from console.outbound.client import Client, Reply, Unreachable
from console.outbound.safety import UnsafeURL
from notifications.catalogue import BY_KEY, Severity
from notifications.delivery.emails import mail_connection, notification_email, notification_link
from notifications.delivery.signing import Signer
from notifications.items import item_from_row, notification_item
from notifications.models import Delivery, Source, WebhookFormat

log = logging.getLogger(__name__)

SLACK_TEXT_MAX = 3000
DISCORD_CONTENT_MAX = 2000
DISCORD_DESCRIPTION_MAX = 4096
_DISCORD_COLOURS = {Severity.SUCCESS: 0x2E7D32, Severity.INFO: 0x1565C0, Severity.ERROR: 0xC62828}


# Of each body, the delivery log keeps the first BODY_LOG_BYTES bytes (UTF-8).
BODY_LOG_BYTES = 4096


def storable_text(data: bytes) -> str:
    """Bytes from a receiver as text the database can keep: PostgreSQL's text cannot hold
    a NUL, and one in an answer would fail the whole batch's record."""
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")


def body_for_log(data: bytes, signer: Signer) -> str:
    """A body as the delivery log keeps it: storable text without the secret, cut to
    BODY_LOG_BYTES (a character cut in two is dropped)."""
    text = signer.redact(storable_text(data))
    return text.encode()[:BODY_LOG_BYTES].decode("utf-8", "ignore")


@dataclass
class Exchange:
    """What one webhook attempt sent and got back, filled in as it goes so that a failed
    attempt's log has it too. Headers are not kept: they carry the signature."""

    request_body: str = ""
    response_body: str = ""


class DeliveryError(Exception):
    """The delivery did not arrive; `permanent` says trying again will not help."""

    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None,
                 retry_after: float | None = None, gone: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.gone = gone


def delivery_item(delivery: Delivery) -> dict[str, Any]:
    """The notification item a delivery carries; a made-up one for a test event."""
    if delivery.notification is not None:
        return notification_item(delivery.notification)
    now = timezone.now()
    return item_from_row({
        "id": None, "message": "[rack-console] Test event: this webhook works",
        "action": "webhook:test", "status": "success", "severity": Severity.SUCCESS.value,
        "event_type": "webhook:test", "rack_id": None, "rack__name": "rack-console",
        "app": "", "data": {"endpoint": delivery.endpoint_id},
        "source": Source.CONSOLE.value, "actor": "", "occurred_at": now, "created_at": now,
    }, read=False)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


class WebhookSender:
    """Posts a JSON body, signed per Standard Webhooks, and judges the answer."""

    def body(self, delivery: Delivery, item: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, delivery: Delivery, client: Client, signer: Signer,
                   exchange: Exchange) -> int:
        endpoint = delivery.endpoint
        item = delivery_item(delivery)
        text = json.dumps(self.body(delivery, item), separators=(",", ":"),
                          ensure_ascii=False)
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity",
                   **signer.headers(delivery.webhook_id, timezone.now(), text)}
        exchange.request_body = body_for_log(text.encode(), signer)
        try:
            reply = await client.send("POST", endpoint.url, text.encode(), headers)
        except UnsafeURL as error:
            raise DeliveryError(str(error), permanent=True) from None
        except Unreachable as error:
            raise DeliveryError(str(error), permanent=False) from None
        exchange.response_body = body_for_log(reply.body, signer)
        return judge_reply(reply, exchange.response_body)


def judge_reply(reply: Reply, body: str) -> int:
    """The status code of an answer that means delivered; else why not, as DeliveryError,
    quoting the start of `body` (the answer as the log keeps it: no secret, no NUL)."""
    code = reply.status_code
    if 200 <= code < 300:
        return code
    said = body[:200].strip()
    said = f": {said}" if said else ""
    if code == 410:
        raise DeliveryError(f"The receiver answered 410 Gone{said}", permanent=True,
                            status_code=code, gone=True)
    if code == 429 or code >= 500:
        raise DeliveryError(f"The receiver answered {code}{said}", permanent=False,
                            status_code=code,
                            retry_after=_retry_after_seconds(reply.headers.get("retry-after")))
    if 300 <= code < 400:
        where = reply.headers.get("location", "")
        raise DeliveryError(f"The receiver answered {code} (redirect to {where or '?'}); "
                            "redirects are not followed: update the URL.",
                            permanent=True, status_code=code)
    raise DeliveryError(f"The receiver refused it with {code}{said}", permanent=True,
                        status_code=code)


def _timestamp(item: dict[str, Any]) -> str:
    return item["occurred_at"]


class StandardSender(WebhookSender):
    def body(self, delivery: Delivery, item: dict[str, Any]) -> dict[str, Any]:
        return {"type": item["action"], "timestamp": _timestamp(item), "data": item}


# Slack reads <...> as a link or a mention (<!channel>, <@U123>) and & as the start of
# an entity: text that comes from rack data is escaped so it is shown, never acted on.
_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _slack_escape(text: str, limit: int = SLACK_TEXT_MAX) -> str:
    """The text escaped for Slack, cut to `limit` characters without splitting an entity."""
    pieces, size = [], 0
    for char in text:
        piece = _SLACK_ENTITIES.get(char, char)
        size += len(piece)
        if size > limit:
            break
        pieces.append(piece)
    return "".join(pieces)


def _meaning(delivery: Delivery) -> str:
    if delivery.notification is None:
        return "A test event sent from the webhook's settings."
    return delivery.notification.meaning


def _link(delivery: Delivery) -> str:
    return notification_link(delivery.notification)


class SlackSender(WebhookSender):
    """Slack's incoming-webhook body: `text` (the fallback) and Block Kit `blocks`; the
    message (rack data) is escaped in both, so a rack cannot ping @channel."""

    def body(self, delivery: Delivery, item: dict[str, Any]) -> dict[str, Any]:
        message = _slack_escape(item["message"])
        context = f"{_slack_escape(_meaning(delivery))} <{_link(delivery)}|Open in Rack Console>"
        return {
            "text": message,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": message}},
                {"type": "context",
                 "elements": [{"type": "mrkdwn", "text": context[:SLACK_TEXT_MAX]}]},
            ],
        }


class DiscordSender(WebhookSender):
    """Discord's webhook body: `content` and one embed; event text never pings anyone."""

    def body(self, delivery: Delivery, item: dict[str, Any]) -> dict[str, Any]:
        kind = BY_KEY.get(item["event_type"])
        embed: dict[str, Any] = {
            "title": (kind.title if kind else "Test event")[:256],
            "description": _meaning(delivery)[:DISCORD_DESCRIPTION_MAX],
            "url": _link(delivery),
            "color": _DISCORD_COLOURS.get(item["severity"], _DISCORD_COLOURS[Severity.INFO]),
            "timestamp": _timestamp(item),
            "footer": {"text": f"Rack {item['rack_name']}"[:2048]},
        }
        if item["app"]:
            embed["fields"] = [{"name": "App", "value": item["app"][:1024], "inline": True}]
        return {"content": item["message"][:DISCORD_CONTENT_MAX], "embeds": [embed],
                "allowed_mentions": {"parse": []}}


class EmailSender:
    """Notification emails through Django's email framework, many on one connection.

    `open` may raise DeliveryError (the mail server cannot be reached); `send` passes one
    delivery's email; a connection the server dropped is opened again by the next send.
    """

    def __init__(self) -> None:
        self.connection = mail_connection()

    def open(self) -> None:
        try:
            self.connection.open()  # a no-op while it is open
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"Could not reach the mail server: {error}",
                                permanent=False) from None

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:
            log.warning("closing the mail connection failed", exc_info=True)

    def send(self, delivery: Delivery) -> None:
        self.open()
        try:
            self.connection.send_messages([notification_email(delivery)])
        except (smtplib.SMTPException, OSError) as error:
            if not isinstance(error, smtplib.SMTPResponseException
                              | smtplib.SMTPRecipientsRefused):
                self.close()  # the connection broke: the next send starts on a new one
            raise mail_error(error) from None


def mail_error(error: smtplib.SMTPException | OSError) -> DeliveryError:
    """What a failed SMTP exchange means for a delivery (one email or a digest): permanent
    when the server said no for good, worth another try when it could not be reached."""
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused):
        return DeliveryError(f"The mail server refused it: {error}", permanent=True)
    if isinstance(error, smtplib.SMTPResponseException):
        return DeliveryError(f"The mail server answered {error.smtp_code}: "
                             f"{error.smtp_error!r}", permanent=500 <= error.smtp_code < 600)
    return DeliveryError(f"Could not reach the mail server: {error}", permanent=False)


WEBHOOK_SENDERS: dict[str, type[WebhookSender]] = {
    WebhookFormat.STANDARD: StandardSender,
    WebhookFormat.SLACK: SlackSender,
    WebhookFormat.DISCORD: DiscordSender,
}
