"""The one way a web process starts: daphne, with the console's caps on what a client sends.

    python -m console.server -b 0.0.0.0 -p 8000     # or --fd 3, -v 0, any daphne option

The Procfile, `manage.py runconsole`, the test harnesses and the benches all start the
web process through `main()`, so every one of them runs with the same limits:

- A request body over its path's cap (console/body_limit.py: 256 KiB for the ingest
  URL, 4 MiB elsewhere) is refused by the server, before it is read: 413 with
  {"error": ...} as soon as a declared Content-Length is over the cap, or as soon as a
  chunked body (or one longer than it said) passes it; then the connection is closed.
  Twisted otherwise reads the whole body, spooling anything over 100 KB to an unlinked
  temporary file, and only then hands the request to the ASGI app: a Django middleware
  or an ASGI wrapper cannot refuse it in time.
- daphne's access log, which it writes itself (not through Python's logging), shows
  ingest URLs, `?token=` and `?ticket=` masked (console.tracing.redact).
- A websocket message (or frame) over 4 KiB closes the socket with 1009, in autobahn,
  before the message is buffered; a check in the consumer would come after. The app may
  close a socket with 1008 (a client flooding it), which autobahn alone refuses.

Plain HTTP/1.1 only: daphne speaks HTTP/2 only over TLS, which a reverse proxy in front
terminates (README, production).
"""

# daphne.server installs Twisted's asyncio reactor when it is imported: first.
from daphne.server import Server  # isort: split

import gc
import importlib
import json
import sys
import threading
import time
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

import autobahn.util
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.interfaces import IProtocol

from console.body_limit import limit_for, too_large
from console.tracing import redact
from notifications.live.limits import CLOSE_FLOODING

APPLICATION = "console.asgi:application"
# The live feed's only client message is a resume of about 40 bytes; a few KiB leave room
# for the messages to come (watch a build), and keep what autobahn buffers per socket small.
WEBSOCKET_MESSAGE_LIMIT = 4 * 1024


class CappedRequest(WebRequest):
    """daphne's request, refusing a body over its path's cap as the body arrives.

    Twisted calls `gotLength` once the headers are in (with the declared length, or
    None for a chunked body) and `handleContentChunk` for each piece of the body; the
    ASGI app runs only once the whole body is in. Past the cap nothing more is kept.
    """

    body_limit = 0
    body_received = 0
    body_refused = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's name
        # The request line is all Twisted has read of the target yet; the path is decoded
        # as daphne decodes it for the app, so both agree on which cap applies.
        target = self.channel._path.decode("latin-1")
        self.body_limit = limit_for(unquote(urlsplit(target).path))
        if length is not None and length > self.body_limit:
            self.refuse_body()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.body_refused:
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self.refuse_body()
            return
        super().handleContentChunk(data)

    def process(self) -> object:
        # A chunked body's last chunk can follow the cut in what was already read: the
        # request is then complete, but it was answered (413) and the app never sees it.
        if self.body_refused:
            return None
        return super().process()

    def refuse_body(self) -> None:
        """Answer 413 at once, keep nothing of the body, and close the connection.

        The answer is written straight to the connection: the app never saw this request,
        and Twisted's own response machinery needs the request line it has not finished
        with yet. Closing stops reading; whatever the client still sends is dropped.
        """
        self.body_refused = True
        self.content = _Discard()
        # Twisted would answer "100 Continue" after the headers: not to a refused body.
        self.requestHeaders.removeHeader(b"expect")
        body = json.dumps({"error": too_large(self.body_limit)}).encode()
        self.channel.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body)
        self.channel.loseConnection()


class _Discard:
    """Where a refused request's body goes: nowhere."""

    closed = False

    def write(self, data: bytes) -> None:
        pass

    def read(self, size: int = -1) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class CappedHTTPFactory(HTTPFactory):
    """daphne's HTTP factory, making CappedRequests instead of daphne's WebRequests."""

    def buildProtocol(self, addr: object) -> IProtocol:  # noqa: N802 - Twisted's name
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = CappedRequest
        return protocol


class ConsoleWebSocketProtocol(WebSocketProtocol):
    """daphne's websocket protocol; the app may also close a socket with 1008.

    autobahn takes only 1000 and 3000-4999 from an application, but RFC 6455 (7.4.1) lets
    a server close with 1008, policy violation, and the live feed closes a socket that
    floods it so (notifications.live.limits).
    """

    def serverClose(self, code: int | None = None) -> None:  # noqa: N802 - daphne's name
        if code == CLOSE_FLOODING:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)


class RedactedStream:
    """The access log's stream, with the secrets in each line masked."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, line: str) -> int:
        return self.stream.write(redact(line))

    def flush(self) -> None:
        self.stream.flush()


class ConsoleServer(Server):
    """daphne's server with CappedHTTPFactory, websockets that close with a reason, and an
    access log without secrets.

    `Server.run()` builds both factories itself (`self.http_factory = HTTPFactory(self)`,
    `self.ws_factory = WebSocketFactory(...)`) with no hook to choose or configure them
    first; these two properties take them as they are assigned.
    """

    def __init__(self, *args: Any, action_logger: Any = None, **kwargs: Any) -> None:
        if isinstance(action_logger, AccessLogGenerator):
            action_logger.stream = RedactedStream(action_logger.stream)
        super().__init__(*args, action_logger=action_logger, **kwargs)

    @property
    def http_factory(self) -> HTTPFactory:
        return self._capped_http_factory

    @http_factory.setter
    def http_factory(self, daphnes: HTTPFactory) -> None:
        self._capped_http_factory = CappedHTTPFactory(self)

    @property
    def ws_factory(self) -> WebSocketFactory:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: WebSocketFactory) -> None:
        # A socket that breaks a limit (a message over the cap: 1009) is sent a close
        # frame with the code, which the client reads; autobahn's default drops the TCP
        # connection instead, and the client sees only 1006.
        factory.setProtocolOptions(failByDrop=False)
        factory.protocol = ConsoleWebSocketProtocol
        self._ws_factory = factory


class ConsoleCommandLine(CommandLineInterface):
    """daphne's command line, running ConsoleServer with the websocket message cap."""

    server_class = ConsoleServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(websocket_max_message_size=WEBSOCKET_MESSAGE_LIMIT,
                                 websocket_max_frame_size=WEBSOCKET_MESSAGE_LIMIT)


# Seconds between the web process' full garbage collections (tune_process).
FULL_COLLECTION_SECONDS = 300


def tune_process() -> None:
    """Settings of a web process that pushes each notification to many sockets.

    - The garbage collector: a process with 1,000 open sockets tracks millions of
      objects, and a full collection stalls every socket for 100-400 ms. What start-up
      made is left out of collections for good (freeze), the young generation is
      collected less often, and full collections run on a clock.
    - autobahn builds a coloured debug line per frame sent even with debug logging off;
      with click installed (Celery needs it) each colour is a `click.style` call.
    - A view thread that takes the GIL while the loop writes a frame keeps it for the
      switch interval (5 ms by default): a shorter one hands it back sooner.

    Together they take the live bench's p99 from ingest to socket from 230 to 113 ms at
    1,000 sockets (A/B): run only in the web process, never on import.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1_000_000_000)

    def collect_now_and_then() -> None:
        while True:
            time.sleep(FULL_COLLECTION_SECONDS)
            gc.collect()

    threading.Thread(target=collect_now_and_then, name="full-gc", daemon=True).start()
    autobahn.util._HAS_CLICK = False
    sys.setswitchinterval(0.0005)


def main(argv: list[str] | None = None) -> None:
    """Run the console's web process; `argv` takes daphne's options, not the app."""
    importlib.import_module(APPLICATION.partition(":")[0])  # Django loaded: then tuned
    tune_process()
    ConsoleCommandLine().run([*(sys.argv[1:] if argv is None else argv), APPLICATION])


if __name__ == "__main__":
    main()
