"""Speaking a Convox rack's HTTP API, through the console's one outbound path.

Every call goes through console.outbound.client, and a logs websocket through
console.outbound.websocket, with the same safety (public addresses only unless
OUTBOUND_ALLOWED_NETWORKS allows, the port rule, the address checked at connect time, a
deadline, a cap on the answer). Requests are form-encoded, as the rack reads them; the
password goes as Basic auth `convox:<password>`, as the CLI sends it; TLS is verified,
unless the rack pins its certificate's SHA-256, which is then checked before the
Authorization header leaves. Every failure becomes a RackError in words a person
understands (shared/convox-rack-api.md, "Errors": the JSON `error`, else the text, else
the status).
"""

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings

from console.outbound.client import Body, Client, Reply, TLSError, Unreachable
from console.outbound.safety import UnsafeURL, parse_target
from console.outbound.websocket import SocketEnded, SocketRefused, open_text_socket
from racks.driver import RackError

USER_AGENT = "RackConsole/1.0"
FINGERPRINT_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# Reads of one rack in flight at once during a sync: quick, without flooding the rack.
READ_CONCURRENCY = 8
# How a rack's websocket route reports a failure, instead of more data. A log line that
# happens to begin so ends the stream too: the logs object, read when the build ends,
# still has it.
LOGS_ERROR = "ERROR: "


class RackUnreachable(RackError):
    """The rack did not answer (refused connection, deadline, TLS): sync backs off."""


class WrongPassword(RackError):
    """The rack refused the password (401)."""


def normalize_host(host: str) -> str:
    """The rack's API base URL, `https://<host>[:port]`; raises RackError for anything else.

    A bare host name means HTTPS, as the CLI's CONVOX_HOST does. A path, query or
    credentials in it are refused: the password is given on its own.
    """
    host = (host or "").strip().rstrip("/")
    if not host:
        raise RackError("Give the rack's API host, e.g. https://rack.example.com.")
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    if parts.username or parts.password or parts.path or parts.query or parts.fragment:
        raise RackError("The rack host is a scheme, a host name and maybe a port, "
                        "e.g. https://rack.example.com; give the password on its own.")
    try:
        parse_target(host)
    except UnsafeURL as refused:
        raise RackError(f"The console may not connect to {host}: {refused}") from None
    return host


def normalize_fingerprint(value: str) -> str:
    """`sha256:<64 hex>`; accepts the colon-separated upper-case form openssl prints."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    if not value.startswith("sha256:"):
        value = "sha256:" + value.removeprefix("sha256 fingerprint=")
    value = "sha256:" + value[7:].replace(":", "")
    if not FINGERPRINT_RE.match(value):
        raise RackError("A TLS fingerprint is the SHA-256 of the rack's certificate: "
                        "sha256: and 64 hex characters (openssl x509 -fingerprint -sha256).")
    return value


@dataclass(frozen=True)
class RackAPI:
    """One rack's API: its base URL, its password and, for a self-signed rack, its pin."""

    host: str
    password: str
    fingerprint: str = ""

    def _headers(self, content_type: str = "") -> dict[str, str]:
        token = base64.b64encode(f"convox:{self.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "User-Agent": USER_AGENT,
                   # JSON errors from v3 racks that give them; others answer text.
                   "Accept": "application/json, */*"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    @staticmethod
    def _client(timeout: float | None = None) -> Client:
        return Client(timeout=timeout or settings.RACK_TIMEOUT_SECONDS,
                      limit=settings.RACK_MAX_RESPONSE_BYTES)

    def call(self, method: str, path: str, *, form: dict[str, str] | None = None,
             query: dict[str, str] | None = None, body: Body = b"", length: int | None = None,
             content_type: str = "", timeout: float | None = None) -> Reply:
        """One request; a RackError (RackUnreachable, WrongPassword) unless it is 2xx.
        A body given in chunks is sent as they come, with `length` as its Content-Length
        when it is known (else chunked: the rack reads either)."""
        return asyncio.run(self._send(self._client(timeout), method, path, form=form,
                                      query=query, body=body, length=length,
                                      content_type=content_type))

    def read_many(self, reads: list[tuple[str, dict[str, str] | None]]) -> list[Any]:
        """GET several JSON answers at once (a few at a time, one host lookup): a sync
        reads three lists per app, which one after the other would outlast its task."""
        async def all_of() -> list[Any]:
            client, gate = self._client(), asyncio.Semaphore(READ_CONCURRENCY)

            async def one(path: str, query: dict[str, str] | None) -> Any:
                async with gate:
                    return parse_json(await self._send(client, "GET", path, query=query),
                                      path)
            return await asyncio.gather(*(one(path, query) for path, query in reads))
        return asyncio.run(all_of()) if reads else []

    async def _send(self, client: Client, method: str, path: str, *,
                    form: dict[str, str] | None = None, query: dict[str, str] | None = None,
                    body: Body = b"", length: int | None = None,
                    content_type: str = "") -> Reply:
        url = self.host + quote(path, safe="/")
        if query:
            url += "?" + urlencode(query)
        if form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        headers = self._headers(content_type)
        if length is not None:
            headers["Content-Length"] = str(length)
        try:
            reply = await client.send(method, url, body, headers, pin=self.fingerprint)
        except (UnsafeURL, Unreachable) as failed:
            raise self._not_connected(failed) from None
        if reply.truncated:
            raise RackError(f"The rack's answer to {method} {path} was larger than "
                            f"RACK_MAX_RESPONSE_BYTES ({settings.RACK_MAX_RESPONSE_BYTES}).")
        if not 200 <= reply.status_code < 300:
            raise self._refused(method, path, reply.status_code, error_text(reply))
        return reply

    def _not_connected(self, failed: UnsafeURL | Unreachable) -> RackError:
        """Why no request reached the rack, in a person's words."""
        if isinstance(failed, UnsafeURL):
            return RackError(f"The console may not connect to {self.host}: {failed}")
        if isinstance(failed, TLSError):
            hint = "" if self.fingerprint else (
                " A rack with a self-signed certificate can be trusted by pinning its "
                "certificate's SHA-256 fingerprint.")
            return RackUnreachable(f"TLS error talking to {self.host}: {failed}{hint}")
        return RackUnreachable(f"The rack at {self.host} could not be reached: {failed}")

    def _refused(self, method: str, path: str, status: int, text: str) -> RackError:
        """A rack's answer other than 2xx: the password refused, or the rack's message."""
        if status == 401:
            return WrongPassword(f"The rack at {self.host} refused the password ({text}): "
                                 "check the rack password.")
        return RackError(f"The rack refused {method} {path}: {text} (HTTP {status}).")

    def follow_logs(self, path: str, *, seconds: float, tick: float) -> Iterator[str | None]:
        """The text a logs websocket route sends (`Follow: true`), for at most `seconds`:
        each message as it comes, and None every `tick` seconds when nothing came (so the
        reader can store what it has). Ends at the rack's end of data or when its time is
        up; raises RackError when the socket cannot be opened (RackUnreachable,
        WrongPassword, the rack's 404) or when the rack sends `ERROR: <message>`."""
        url = self.host + quote(path, safe="/")
        headers = {**self._headers(), "Follow": "true"}
        try:
            with open_text_socket(url, headers, pin=self.fingerprint,
                                  timeout=settings.RACK_TIMEOUT_SECONDS, lifetime=seconds,
                                  limit=settings.RACK_MAX_RESPONSE_BYTES) as socket:
                while True:
                    text = socket.receive(tick)
                    if text is not None and text.startswith(LOGS_ERROR):
                        raise RackError(f"The rack's logs of {path} failed: "
                                        f"{text.removeprefix(LOGS_ERROR).strip()}")
                    yield text
        except (UnsafeURL, Unreachable) as failed:
            raise self._not_connected(failed) from None
        except SocketRefused as refused:
            raise self._refused("GET", path, refused.status_code,
                                error_text(Reply(refused.status_code, {}, refused.body,
                                                 False))) from None
        except SocketEnded:
            return

    def read(self, path: str, *, query: dict[str, str] | None = None) -> Any:
        """GET a JSON answer."""
        return parse_json(self.call("GET", path, query=query), path)

    def create(self, path: str, form: dict[str, str]) -> Any:
        """POST a form; the rack answers the created object as JSON."""
        return parse_json(self.call("POST", path, form=form), path)

    def act(self, method: str, path: str, form: dict[str, str] | None = None) -> None:
        """An action route: the rack answers `ok`."""
        self.call(method, path, form=form)


def error_text(reply: Reply) -> str:
    """The rack's message: the JSON `error`, else the trimmed text, else the status."""
    text = reply.body.decode(errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"]
    return text[:300] or f"response status {reply.status_code}"


def parse_json(reply: Reply, path: str) -> Any:
    try:
        return json.loads(reply.body)
    except ValueError:
        raise RackError(f"The rack's answer to {path} is not JSON: is this a Convox rack's "
                        "API host?") from None
