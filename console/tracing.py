"""Following one event through the logs, and keeping secrets out of them.

Every request gets a request id (the caller's `X-Request-ID` when it is sane, else a new
one), answered in `X-Request-ID`. It travels into the Celery tasks the request queues (a
message header) and into the live push (the channel-layer message), and every log line
carries it, with the notification and rack ids where they are known: one event can be
followed from the ingest POST to its live push and to each delivery attempt.

Log lines never carry a secret: ingest URLs, API tokens, websocket tickets and webhook
secrets are masked by a filter on every handler (`Redact`).
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

request_id: ContextVar[str] = ContextVar("request_id", default="")
notification_id: ContextVar[int | None] = ContextVar("notification_id", default=None)
rack_id: ContextVar[int | None] = ContextVar("rack_id", default=None)

HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def about(*, notification: int | None = None, rack: int | None = None) -> None:
    """What the work in hand is about, for the log lines that follow."""
    if notification is not None:
        notification_id.set(notification)
    if rack is not None:
        rack_id.set(rack)


def start(request_id_value: str | None) -> None:
    """A new unit of work (a request, a task, a pushed message) under this request id."""
    request_id.set(request_id_value or new_request_id())
    notification_id.set(None)
    rack_id.set(None)


class RequestIds:
    """Gives each request its id and answers it in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        start(given if _SANE_ID.fullmatch(given) else None)
        response = self.get_response(request)
        response[HEADER] = request_id.get()
        return response


@before_task_publish.connect
def _carry_into_task(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None and request_id.get():
        headers["request_id"] = request_id.get()


@task_prerun.connect
def _pick_up_in_task(task: Any = None, **kwargs: Any) -> None:
    start(getattr(task.request, "request_id", None) if task is not None else None)


@task_postrun.connect
def _done_with_task(**kwargs: Any) -> None:
    start("")


class Context(logging.Filter):
    """Adds request_id, notification_id and rack_id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        # A line about one of several notifications names it itself (`extra=`).
        if not hasattr(record, "notification_id"):
            record.notification_id = notification_id.get()
        if not hasattr(record, "rack_id"):
            record.rack_id = rack_id.get()
        return True


MASK = "[hidden]"
SECRETS = [
    (re.compile(r"(/ingest/)[A-Za-z0-9_-]{8,}"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)\b(Token|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1> {MASK}"),
    (re.compile(r"(?i)([?&](?:token|ticket)=)[^&\s\"']+"), rf"\g<1>{MASK}"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), f"whsec_{MASK}"),
]


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Masks secrets in the message and in the traceback of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
