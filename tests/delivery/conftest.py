"""Real receivers for delivery tests: an HTTP server and an SMTP server on 127.0.0.1."""

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications.envelope import Envelope
from notifications.pipeline import record_event
from tests.helpers import free_port

# Small enough that a whole retry schedule runs within a test.
FAST_RETRIES = [0, 0.3, 0.6, 0.6, 0.6]

ROLES = ["owner", "admin", "member", "viewer"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Test-send throttles count in the cache (Redis db of this run): start at zero."""
    cache.clear()


@pytest.fixture(autouse=True)
def _delivery_settings(settings) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.DELIVERY_RETRY_SCHEDULE = FAST_RETRIES
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    settings.DELIVERY_LEASE_MARGIN_SECONDS = 1.0
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 0.5
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Bytes sent slowly after the headers (a receiver that drips its answer).
    drip: int = 0


class Receiver:
    """A webhook receiver: records every request and answers as told (200 by default).

    `answers` are used in turn, the last one repeating. `secret` makes it verify each
    request with standardwebhooks' Webhook.verify, as a real receiver would.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.verified: list[dict] = []
        self.rejected: list[str] = []
        self.answers: list[Answer] = [Answer()]
        self.secrets: list[str] = []
        self.arrived = threading.Event()
        self.cut_off = False  # the sender hung up before the answer was complete
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(Received(handler.path, headers, body, time.monotonic()))
            for secret in self.secrets:
                try:
                    self.verified.append(Webhook(secret).verify(body, headers))
                    break
                except WebhookVerificationError as error:
                    last = str(error)
            else:
                if self.secrets:
                    self.rejected.append(last)
        self.arrived.set()
        answer = self._next_answer()
        time.sleep(answer.delay)
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body) + answer.drip))
            handler.end_headers()
            handler.wfile.write(answer.body)
            for _ in range(answer.drip):
                handler.wfile.write(b".")
                handler.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            self.cut_off = True

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.down()


class Mailbox:
    """Keeps every message; refuses the recipients in `refuse` as a mail server would."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: set[str] = set()
        self.peers: list[tuple] = []  # the client end of the connection each came over

    async def handle_RCPT(self, server, session, envelope, address,  # noqa: N802
                          rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1; Django's email goes to it."""
    mailbox = Mailbox()
    # aiosmtpd's start-up check connects to the configured port, so it cannot be 0: ask
    # the system for a free port first.
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield mailbox
    controller.stop()


@pytest.fixture
def emit(rack) -> Callable[..., object]:
    """Record an event of the rack, as its ingest would."""
    def send(action: str, status: str = "success", **data: str):
        envelope = Envelope(action=action, status=status, data={"rack": rack.name, **data},
                            timestamp=datetime.now(UTC))
        return record_event(rack, envelope).notification
    return send
