"""The one client all outgoing HTTP goes through: webhooks and a connected rack's API.

`Client.send` resolves the URL's host and checks every address (safety.py) at each
attempt, then has httpx connect to a checked address itself: the URL's host is replaced
by that IP, the original name stays in the Host header and in TLS (SNI and the
certificate check). A name that re-resolves to a private address between save and send
(DNS rebinding) is therefore refused, and nothing is ever looked up again after the check.

httpx does the rest: quoting, IDNA, Basic auth from the URL's credentials, TLS. The whole
attempt, from resolving to the last byte read, has one deadline; at most `limit` bytes
of the answer are read (WEBHOOK_MAX_RESPONSE_BYTES unless the caller gives its own: a
rack's lists are larger than a webhook receiver's "ok"); redirects are not followed (a 3xx
is just an answer).

TLS is verified against the CA bundle. A caller that pins a certificate (a self-signed
rack, by the SHA-256 of its certificate) relaxes verification for that one connection
only: the certificate the server showed is hashed and compared as soon as the handshake
ends, before a byte of the request, and so its Authorization header, is sent.

Each request has a client and a connection of its own: httpx's pool matches connections
by address alone, and a connection verified for one name must not carry another's request.
"""

import asyncio
import functools
import hashlib
import hmac
import ssl
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from console.outbound.safety import IPAddress, Target, UnsafeURL, checked_addresses, parse_target

USER_AGENT = "RackConsole-Webhooks/1.0"
# A request's body: bytes, or chunks sent as they come (a build's source, never whole in
# memory). Chunks are read once: a connect that fails sends none, so the next address
# still gets them all.
Body = bytes | AsyncIterable[bytes]


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
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every request: loading the CA bundle is slow."""
    return httpx.create_ssl_context()  # certifi's CA bundle


@functools.cache
def pinning_context() -> ssl.SSLContext:
    """A context that accepts any certificate: only for a connection whose certificate is
    then checked against its pin (_PinCheck), never on its own."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA bundle: it would go unused
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def certificate_fingerprint(der: bytes) -> str:
    """How a pinned certificate is named: `sha256:` and the hex of its DER bytes' SHA-256."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class _PinCheck:
    """httpx's `trace` hook: called as soon as the TLS handshake ends, before the request
    is written; raising here drops the connection with nothing sent."""

    pin: str

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.start_tls.complete":
            return
        stream = info["return_value"]
        tls = stream.get_extra_info("ssl_object")
        refusal = pin_refusal(tls.getpeercert(binary_form=True) if tls is not None else None,
                              self.pin)
        if refusal:
            await stream.aclose()
            raise TLSError(refusal)


def pin_refusal(der: bytes | None, pin: str) -> str:
    """Why the certificate a server showed is not the pinned one, or "" when it is."""
    seen = certificate_fingerprint(der) if der else ""
    if hmac.compare_digest(seen, pin.lower()):
        return ""
    if not seen:
        return "The server showed no certificate to check against the pinned one."
    return f"The server's certificate ({seen}) is not the pinned one ({pin})."


def certificate_refusal(error: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate error behind a failed connect, if that is what it was."""
    while error is not None:
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
        error = error.__cause__ or error.__context__
    return None


class Client:
    """Outgoing requests sent together on one event loop, sharing their host lookups."""

    def __init__(self, *, timeout: float | None = None, limit: int | None = None) -> None:
        self.timeout = settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
        self.limit = settings.WEBHOOK_MAX_RESPONSE_BYTES if limit is None else limit
        self._lookups: dict[Target, asyncio.Future[list[IPAddress]]] = {}

    async def send(self, method: str, url: str, body: Body, headers: dict[str, str],
                   *, pin: str = "") -> Reply:
        """Send one request safely; raises UnsafeURL, TLSError or Unreachable, else the
        reply. `pin` (`sha256:<hex>`) trusts exactly that certificate instead of the CAs."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._send(method, url, body, headers, pin)
        except TimeoutError:
            raise Unreachable(
                f"The receiver did not answer within {self.timeout:g} s.") from None

    async def _addresses(self, target: Target) -> list[IPAddress]:
        lookup = self._lookups.get(target)
        if lookup is None:  # a name lookup blocks: keep it off the event loop
            lookup = self._lookups[target] = asyncio.ensure_future(
                asyncio.to_thread(checked_addresses, target))
        # One request's deadline must not cancel the lookup the others wait for.
        return await asyncio.shield(lookup)

    async def _send(self, method: str, url: str, body: Body, headers: dict[str, str],
                    pin: str) -> Reply:
        target = parse_target(url)
        try:
            named = httpx.URL(url)
            host = named.raw_host.decode("ascii").rstrip(".")
        except (httpx.InvalidURL, UnicodeError):
            raise UnsafeURL("This is not a valid URL.") from None
        fields = {"Host": named.netloc.decode("ascii"), "User-Agent": USER_AGENT,
                  "Accept-Encoding": "identity", **headers, "Connection": "close"}
        last_error: Exception | None = None
        for ip in await self._addresses(target):
            try:
                return await self._exchange(method, named.copy_with(host=str(ip)), body,
                                            fields, host, pin)
            except httpx.ConnectError as error:
                refusal = certificate_refusal(error)
                if refusal is not None:
                    raise TLSError(f"The certificate of {target.host} is not trusted: "
                                   f"{refusal.verify_message or refusal}.") from None
                last_error = error  # try the host's next address
        raise Unreachable(f"Could not connect to {target.host}: {last_error}")

    async def _exchange(self, method: str, url: httpx.URL, body: Body,
                        headers: dict[str, str], host: str, pin: str) -> Reply:
        """One request to one checked address; at most `limit` bytes of the answer."""
        extensions: dict[str, Any] = {"sni_hostname": host}
        if pin:
            extensions["trace"] = _PinCheck(pin)
        tls = pinning_context() if pin else tls_context()
        # No proxy from the environment: it would connect elsewhere than the checked
        # address. The deadline is the whole attempt's (send), not httpx's per-step ones.
        async with httpx.AsyncClient(verify=tls, trust_env=False, timeout=None) as client:
            request = client.build_request(method, url, content=body, headers=headers,
                                           extensions=extensions)
            try:
                response = await client.send(request, stream=True)
                try:
                    received = bytearray()
                    async for chunk in response.aiter_raw():
                        received += chunk
                        if len(received) > self.limit:
                            del received[self.limit:]
                            return Reply(response.status_code, dict(response.headers),
                                         bytes(received), True)
                    return Reply(response.status_code, dict(response.headers),
                                 bytes(received), False)
                finally:
                    await response.aclose()
            except httpx.ConnectError:
                raise  # _send tries the next address
            except httpx.TransportError as error:
                raise Unreachable(f"The connection failed: {error or type(error).__name__}") \
                    from None
