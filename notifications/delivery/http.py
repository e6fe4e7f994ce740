"""The one helper all outgoing HTTP goes through.

Each request's host is resolved and every address checked (safety.py); the request then
connects to a checked address itself, checks the address the socket actually reached,
and keeps the URL's host name for the Host header and TLS (SNI and certificate check),
so a name that re-resolves elsewhere cannot redirect it. The whole attempt, from
resolving to the last byte read, has one deadline; at most WEBHOOK_MAX_RESPONSE_BYTES of
the answer are read (a caller may give its own deadline and cap: a real rack's API
answers lists larger than a webhook receiver's "ok"); redirects are not followed (a 3xx
is just an answer).

TLS is verified against the CA bundle. A caller that pins a certificate (a self-signed
rack, by the SHA-256 of its certificate) relaxes verification for that one connection
only: the certificate the server showed is hashed and compared before a byte of the
request, and so its Authorization header, is sent.

HTTP/1.1 is spoken with h11 over a plain asyncio connection, one per request: a
general-purpose client's pool costs more than a webhook's whole exchange when a batch
posts many requests at once. A Session sends a batch on one event loop and resolves
each host name once for the whole batch.
"""

import asyncio
import base64
import functools
import hashlib
import hmac
import ipaddress
import ssl
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import h11
import httpx
from django.conf import settings

from console.outbound.safety import (
    IPAddress,
    Target,
    UnsafeURL,
    checked_addresses,
    parse_target,
)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "RackConsole-Webhooks/1.0"
READ_SIZE = 16 * 1024


class Unreachable(Exception):
    """No answer: the connection failed, or the deadline passed."""


class TLSError(Unreachable):
    """The server's certificate was refused (not trusted, wrong name, or not the pinned one)."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    truncated: bool


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every request: loading the CA bundle is slow."""
    return httpx.create_ssl_context()  # certifi's CA bundle, as before


def _pinning_context() -> ssl.SSLContext:
    """A context that accepts any certificate: only for a connection whose certificate is
    then checked against its pin (_check_pin), never on its own."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def certificate_fingerprint(der: bytes) -> str:
    """How a pinned certificate is named: `sha256:` and the hex of its DER bytes' SHA-256."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _check_pin(writer: asyncio.StreamWriter, pin: str) -> None:
    tls = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    if not der:
        raise TLSError("The server showed no certificate to check against the pinned one.")
    seen = certificate_fingerprint(der)
    if not hmac.compare_digest(seen, pin.lower()):
        raise TLSError(f"The server's certificate ({seen}) is not the pinned one ({pin}).")


def timeout_seconds() -> float:
    return settings.WEBHOOK_TIMEOUT_SECONDS


def max_response_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_peer(peer: tuple | None, addresses: list[IPAddress]) -> None:
    """The socket must have reached one of the addresses checked for this request."""
    if not peer or ipaddress.ip_address(str(peer[0]).split("%")[0]) not in addresses:
        where = peer[0] if peer else "an unknown address"
        raise UnsafeURL(f"Connected to {where}, which is not an address that was checked.")


# Printable ASCII stays as it is in the path and query; spaces and the rest are %-encoded.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def _request(url: str, target: Target, body: bytes, headers: dict[str, str],
             method: str = "POST") -> h11.Request:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    try:
        host = f"[{target.host}]" if ":" in target.host else target.host.encode("idna").decode()
    except UnicodeError:
        raise UnsafeURL("This is not a valid URL.") from None
    if parts.port is not None:
        host += f":{parts.port}"
    fields = {"Host": host, "User-Agent": USER_AGENT, **headers,
              "Content-Length": str(len(body)), "Connection": "close"}
    if userinfo:  # credentials in the URL, as a browser or curl would send them
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        fields["Authorization"] = f"Basic {token}"
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _URL_SAFE)
    try:
        return h11.Request(method=method, target=path, headers=list(fields.items()))
    except (h11.LocalProtocolError, UnicodeError):
        raise UnsafeURL("This is not a valid URL.") from None


class Session:
    """Outgoing requests sent together on one event loop, sharing their host lookups."""

    def __init__(self, *, timeout: float | None = None, limit: int | None = None) -> None:
        self.timeout = timeout_seconds() if timeout is None else timeout
        self.limit = max_response_bytes() if limit is None else limit
        self._lookups: dict[Target, asyncio.Future[list[IPAddress]]] = {}

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        """POST `body` to `url` safely; raises UnsafeURL or Unreachable, else the reply."""
        return await self.request("POST", url, body, headers)

    async def request(self, method: str, url: str, body: bytes, headers: dict[str, str],
                      *, pin: str = "") -> Reply:
        """Send one request safely; raises UnsafeURL, TLSError or Unreachable, else the
        reply. `pin` (`sha256:<hex>`) trusts exactly that certificate instead of the CAs."""
        try:
            return await asyncio.wait_for(self._send(method, url, body, headers, pin),
                                          self.timeout)
        except TimeoutError:
            raise Unreachable(
                f"The receiver did not answer within {self.timeout:g} s.") from None

    async def _addresses(self, target: Target) -> list[IPAddress]:
        if _is_ip_literal(target.host):
            return checked_addresses(target)
        lookup = self._lookups.get(target)
        if lookup is None:  # a name lookup blocks: keep it off the event loop
            lookup = self._lookups[target] = asyncio.ensure_future(
                asyncio.to_thread(checked_addresses, target))
        # One request's deadline must not cancel the lookup the others wait for.
        return await asyncio.shield(lookup)

    async def _send(self, method: str, url: str, body: bytes, headers: dict[str, str],
                    pin: str) -> Reply:
        target = parse_target(url)
        request = _request(url, target, body, headers, method)
        addresses = await self._addresses(target)
        tls = None
        if target.scheme == "https":
            tls = _pinning_context() if pin else _tls_context()
        last_error: Exception | None = None
        for ip in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    str(ip), target.port, ssl=tls,
                    server_hostname=target.host if tls else None)
            except ssl.SSLCertVerificationError as error:
                raise TLSError(f"The certificate of {target.host} is not trusted: "
                               f"{error.verify_message or error}.") from None
            except (OSError, ssl.SSLError) as error:
                last_error = error  # try the host's next address
                continue
            try:
                _check_peer(writer.get_extra_info("peername"), addresses)
                if tls is not None and pin:
                    _check_pin(writer, pin)
                return await self._exchange(reader, writer, request, body)
            finally:
                writer.transport.abort()  # one request per connection; never wait on a close
        raise Unreachable(f"Could not connect to {target.host}: {last_error}")

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: h11.Request, body: bytes) -> Reply:
        conn = h11.Connection(h11.CLIENT)
        try:
            writer.write(conn.send(request) + conn.send(h11.Data(data=body))
                         + conn.send(h11.EndOfMessage()))
            await writer.drain()
            status, answer_headers = 0, {}
            received = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(READ_SIZE))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    answer_headers = {name.decode("latin-1"): value.decode("latin-1")
                                      for name, value in event.headers}
                elif isinstance(event, h11.Data):
                    received += event.data
                    if len(received) > self.limit:
                        del received[self.limit:]
                        return Reply(status, answer_headers, bytes(received), True)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return Reply(status, answer_headers, bytes(received), False)
                # An InformationalResponse (1xx) is followed by the real one.
        except (OSError, ssl.SSLError, h11.ProtocolError) as error:
            raise Unreachable(f"The connection failed: {error or type(error).__name__}") \
                from None


def post(url: str, body: bytes, headers: dict[str, str]) -> Reply:
    """One request on a Session of its own, blocking; raises as Session.post does."""
    return asyncio.run(Session().post(url, body, headers))

