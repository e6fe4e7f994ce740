"""Speaking a Convox rack's HTTP API, through the console's one outbound path.

Every call goes through console.outbound.client (public addresses only unless
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
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings

from console.outbound.client import Client, Reply, TLSError, Unreachable
from console.outbound.safety import UnsafeURL, parse_target
from racks.driver import RackError

USER_AGENT = "RackConsole/1.0"
FINGERPRINT_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# Reads of one rack in flight at once during a sync: quick, without flooding the rack.
READ_CONCURRENCY = 8


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
             query: dict[str, str] | None = None, body: bytes = b"",
             content_type: str = "", timeout: float | None = None) -> Reply:
        """One request; a RackError (RackUnreachable, WrongPassword) unless it is 2xx."""
        return asyncio.run(self._send(self._client(timeout), method, path, form=form,
                                      query=query, body=body, content_type=content_type))

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
                    body: bytes = b"", content_type: str = "") -> Reply:
        url = self.host + quote(path, safe="/")
        if query:
            url += "?" + urlencode(query)
        if form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        try:
            reply = await client.send(method, url, body, self._headers(content_type),
                                      pin=self.fingerprint)
        except UnsafeURL as refused:
            raise RackError(f"The console may not connect to {self.host}: {refused}") from None
        except TLSError as refused:
            hint = "" if self.fingerprint else (
                " A rack with a self-signed certificate can be trusted by pinning its "
                "certificate's SHA-256 fingerprint.")
            raise RackUnreachable(f"TLS error talking to {self.host}: {refused}{hint}") \
                from None
        except Unreachable as failed:
            raise RackUnreachable(f"The rack at {self.host} could not be reached: {failed}") \
                from None
        if reply.truncated:
            raise RackError(f"The rack's answer to {method} {path} was larger than "
                            f"RACK_MAX_RESPONSE_BYTES ({settings.RACK_MAX_RESPONSE_BYTES}).")
        if reply.status_code == 401:
            raise WrongPassword(f"The rack at {self.host} refused the password "
                                f"({error_text(reply)}): check the rack password.")
        if not 200 <= reply.status_code < 300:
            raise RackError(f"The rack refused {method} {path}: {error_text(reply)} "
                            f"(HTTP {reply.status_code}).")
        return reply

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
