"""Outgoing websockets (a connected rack's logs), with the same safety as client.py's HTTP.

`open_text_socket` resolves the URL's host and checks every address (safety.py), connects
to a checked address itself and never looks the name up again; TLS is verified against
the CA bundle with the URL's host name, or, for a pinned certificate, the certificate the
server showed is hashed and compared as soon as the handshake ends, before a byte of the
upgrade request (and so its Authorization header) is written. Connecting and the
handshake have one deadline; the open socket has a lifetime of its own and a cap on the
bytes read from it.

The websocket protocol itself is the `websockets` library's sans-I/O ClientProtocol: this
module only moves bytes between it and the socket, so the framing, masking, pings and the
closing handshake are the library's. No extension is offered (no compression: a frame's
size on the wire is its size in memory).
"""

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, ProtocolError
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from console.outbound import client
from console.outbound.client import TLSError, Unreachable
from console.outbound.safety import checked_addresses, parse_target

READ_SIZE = 64 * 1024


class SocketRefused(Exception):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status_code: int, body: bytes) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code, self.body = status_code, body


class SocketEnded(Exception):
    """The socket will give no more: the server's end of data (an empty binary frame), its
    close, the lifetime passed, or the cap on bytes read reached; the text says which."""


class TextSocket:
    """An open websocket the server sends text on, read one message at a time."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol, *, ends_at: float,
                 limit: int, read: int, frames: list[Frame]) -> None:
        self._sock, self._protocol = sock, protocol
        self._ends_at, self._limit, self._read = ends_at, limit, read
        self._frames = frames  # those that came with the upgrade's answer
        self._eof = False
        self._fragments: list[bytes] = []

    def receive(self, wait: float) -> str | None:
        """The next message as text; None when none came within `wait` seconds; raises
        SocketEnded when there will be no more."""
        until = min(time.monotonic() + wait, self._ends_at)
        while True:
            while self._frames:
                message = self._take(self._frames.pop(0))
                if message is not None:
                    return message
            if self._eof:
                raise SocketEnded("the server closed the connection")
            left = until - time.monotonic()
            if left <= 0:
                if time.monotonic() >= self._ends_at:
                    raise SocketEnded("the socket's time is up")
                return None
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(READ_SIZE)
            except TimeoutError:
                continue
            except OSError as error:
                raise SocketEnded(f"the connection failed: {error}") from None
            self._read += len(data)
            if self._read > self._limit:
                raise SocketEnded(f"more than {self._limit} bytes came")
            if data:
                self._protocol.receive_data(data)
            else:
                self._eof = True
                self._protocol.receive_eof()
            try:
                self._flush()  # pongs, and the answer to a close
            except OSError as error:
                raise SocketEnded(f"the connection failed: {error}") from None
            self._frames += [e for e in self._protocol.events_received() if isinstance(e, Frame)]

    def _take(self, frame: Frame) -> str | None:
        """A whole message from its frames, or None while it is still in fragments."""
        if frame.opcode is Opcode.CLOSE:
            raise SocketEnded("the server closed the socket")
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return None  # a ping or a pong: the protocol answers pings itself
        if frame.opcode is Opcode.BINARY and frame.fin and not frame.data \
                and not self._fragments:
            raise SocketEnded("the server's data ended")
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return None
        message, self._fragments = b"".join(self._fragments), []
        return message.decode(errors="replace")

    def _flush(self) -> None:
        for data in self._protocol.data_to_send():
            if data:
                self._sock.sendall(data)

    def close(self) -> None:
        try:
            if self._protocol.state is State.OPEN:  # not already closing: say goodbye
                self._protocol.send_close()
                self._flush()
        except (OSError, ProtocolError):
            pass  # closing a socket that is already gone
        finally:
            self._sock.close()


def _connect(url: str, pin: str, deadline: float) -> socket.socket:
    """A connection to a checked address of the URL's host, TLS done (and the pin checked)
    for https; raises UnsafeURL, TLSError or Unreachable."""
    target = parse_target(url)
    last_error: OSError | None = None
    for ip in checked_addresses(target):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            sock = socket.create_connection((str(ip), target.port), timeout=left)
        except OSError as error:
            last_error = error  # try the host's next address
            continue
        if target.scheme != "https":
            return sock
        context = client.pinning_context() if pin else client.tls_context()
        try:
            tls = context.wrap_socket(sock, server_hostname=target.host)
        except ssl.SSLCertVerificationError as refused:
            sock.close()
            raise TLSError(f"The certificate of {target.host} is not trusted: "
                           f"{refused.verify_message or refused}.") from None
        except OSError as error:
            sock.close()
            last_error = error
            continue
        refusal = client.pin_refusal(tls.getpeercert(binary_form=True), pin) if pin else ""
        if refusal:
            tls.close()
            raise TLSError(refusal)
        return tls
    if time.monotonic() >= deadline:
        raise Unreachable(f"Could not connect to {target.host} in time.")
    raise Unreachable(f"Could not connect to {target.host}: {last_error}")


def _handshake(sock: socket.socket, protocol: ClientProtocol,
               deadline: float) -> tuple[list[Frame], int]:
    """Read until the server has answered the upgrade: the frames that came with its
    answer, and the bytes read. Raises SocketRefused or Unreachable."""
    read = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Unreachable("The server did not answer the websocket upgrade in time.")
        sock.settimeout(left)
        try:
            data = sock.recv(READ_SIZE)
        except TimeoutError:
            continue
        except OSError as error:
            raise Unreachable(f"The connection failed: {error}") from None
        read += len(data)
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        events = protocol.events_received()
        failed = protocol.handshake_exc
        if isinstance(failed, InvalidStatus):
            raise SocketRefused(failed.response.status_code, bytes(failed.response.body))
        if failed is not None:
            raise Unreachable(f"The server's answer is not a websocket: {failed}")
        if any(isinstance(event, Response) for event in events):
            return [e for e in events if isinstance(e, Frame)], read
        if not data:
            raise Unreachable("The server closed the connection before answering.")


@contextmanager
def open_text_socket(url: str, headers: dict[str, str], *, pin: str = "",
                     timeout: float, lifetime: float, limit: int) -> Iterator[TextSocket]:
    """An open websocket to an http(s) URL, closed after the `with`.

    `timeout` bounds connecting and the upgrade, `lifetime` the socket once open, `limit`
    the bytes read from it (any one message too). Raises UnsafeURL, TLSError, Unreachable,
    or SocketRefused when the server answers the upgrade with another status."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme)
    protocol = ClientProtocol(parse_uri(parts._replace(scheme=scheme).geturl()),
                              max_size=limit)
    sock = _connect(url, pin, deadline)
    try:
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        for data in protocol.data_to_send():
            sock.sendall(data)
        frames, read = _handshake(sock, protocol, deadline)
    except OSError as error:
        sock.close()
        raise Unreachable(f"The connection failed: {error}") from None
    except BaseException:
        sock.close()
        raise
    opened = TextSocket(sock, protocol, ends_at=time.monotonic() + lifetime, limit=limit,
                        read=read, frames=frames)
    try:
        yield opened
    finally:
        opened.close()
