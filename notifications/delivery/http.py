"""The one helper all outgoing HTTP goes through.

Each request resolves its host once, checks every address (safety.py), and connects to
a checked address while keeping the URL's host name for the Host header and TLS (SNI
and certificate check), so a name that re-resolves elsewhere cannot redirect it. The
whole attempt, from resolving to the last byte read, has one deadline; at most
WEBHOOK_MAX_RESPONSE_BYTES of the answer are read; redirects are not followed.
"""

import asyncio
import functools
import ipaddress
import ssl
from dataclasses import dataclass

import httpx
from django.conf import settings

from notifications.delivery.safety import UnsafeURL, checked_addresses, parse_target

DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "RackConsole-Webhooks/1.0"


class Unreachable(Exception):
    """No answer: the connection failed, or the deadline passed."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: httpx.Headers
    body: bytes
    truncated: bool


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every request: loading the CA bundle is slow."""
    return httpx.create_ssl_context()


def timeout_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def max_response_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _pinned_url(url: httpx.URL, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> httpx.URL:
    return url.copy_with(host=str(ip))


async def _post(url: str, body: bytes, headers: dict[str, str], limit: int,
                client: httpx.AsyncClient) -> Reply:
    target = parse_target(url)
    if _is_ip_literal(target.host):
        addresses = checked_addresses(target)
    else:  # a name lookup blocks: keep it off the event loop (the deadline still applies)
        addresses = await asyncio.to_thread(checked_addresses, target)
    original = httpx.URL(url)
    last_error: Exception | None = None
    for ip in addresses:
        extensions = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        request_headers = {"Host": original.netloc.decode("ascii"), "User-Agent": USER_AGENT,
                           **headers}
        try:
            async with client.stream("POST", _pinned_url(original, ip), content=body,
                                     headers=request_headers,
                                     extensions=extensions) as response:
                _check_peer(response, addresses)
                received = bytearray()
                truncated = False
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) > limit:
                        truncated = True
                        del received[limit:]
                        break
                return Reply(response.status_code, response.headers, bytes(received), truncated)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            last_error = error  # try the host's next address
        except httpx.TimeoutException as error:
            raise Unreachable(f"The receiver did not answer in time ({error}).") from None
        except httpx.HTTPError as error:
            raise Unreachable(f"The connection failed: {error}") from None
    raise Unreachable(f"Could not connect to {target.host}: {last_error}")


def _check_peer(response: httpx.Response, addresses: list) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and ipaddress.ip_address(peer[0].split("%")[0]) not in addresses:
        raise UnsafeURL(f"Connected to {peer[0]}, which is not an address that was checked.")


async def post_async(url: str, body: bytes, headers: dict[str, str], *,
                     timeout: float | None = None) -> Reply:
    """POST `body` to `url` safely; raises UnsafeURL or Unreachable, else the reply."""
    timeout = timeout_seconds() if timeout is None else timeout
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                 trust_env=False, verify=_tls_context()) as client:
        try:
            return await asyncio.wait_for(
                _post(url, body, headers, max_response_bytes(), client), timeout)
        except TimeoutError:
            raise Unreachable(f"The receiver did not answer within {timeout:g} s.") from None


def post(url: str, body: bytes, headers: dict[str, str], *,
         timeout: float | None = None) -> Reply:
    """The blocking form of post_async, for Celery tasks and views."""
    return asyncio.run(post_async(url, body, headers, timeout=timeout))
