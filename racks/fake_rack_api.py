"""The fake rack's HTTP side: one request handler answering the routes of a Convox rack's
API (racks.fake_rack holds the rack's state), and the shapes of what it received and how
it refuses, as a real rack's stdapi router does. Its websocket route (a build's logs)
speaks through the `websockets` library's sans-I/O ServerProtocol on the handler's own
socket."""

import base64
import binascii
import json
import secrets
import select
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol

if TYPE_CHECKING:
    from racks.fake_rack import FakeRack

V2_RESOURCE_KINDS = ("postgres", "mysql", "redis", "valkey", "memcached", "s3", "sns", "sqs",
                     "syslog", "webhook")


class Refusal(Exception):
    """An error answer: its status and the rack's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Seen:
    """One request the fake rack received, as the contract tests read it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes


def now() -> str:
    """A time as a rack writes it: RFC 3339 with nanoseconds, in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _limited(rows: list[dict], query: dict[str, str]) -> list[dict]:
    limit = query.get("limit", "10")
    return rows[:int(limit)] if limit.isdigit() else rows[:10]


class Handler(BaseHTTPRequestHandler):
    """Answers one request for `fake`, the rack whose server made it (FakeRack.start)."""

    fake: "FakeRack"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # a test's output is not the place for an access log

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form: dict[str, str] = {}
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace"),
                                                   keep_blank_values=True).items()}
        seen = Seen(self.command, parts.path, query, form,
                    {k.lower(): v for k, v in self.headers.items()}, body)
        fake = self.fake
        fake.requests.append(seen)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            try:
                self._socket(seen)
            except Refusal as refused:
                self._refuse(refused)
            return
        try:
            with fake._lock:
                answer = self._route(seen)
        except Refusal as refused:
            self._refuse(refused)
            return
        except _Sent:
            return
        if answer is None:
            self._send(200, b"ok\n", "text/plain")
        else:
            self._send(200, json.dumps(answer, indent=2).encode(), "application/json")

    def _body(self) -> bytes:
        """The request's body, by its Content-Length or in chunks, as Go's server reads
        either (the console streams an upload whose size it was not told)."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the chunk's CRLF
        while self.rfile.readline().strip():
            pass  # trailers, up to the blank line
        return b"".join(parts)

    def _authorized(self, seen: Seen) -> bool:
        given = seen.headers.get("authorization", "")
        if not given.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(given[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user != "jwt" and secrets.compare_digest(password, self.fake.password)

    def _route(self, seen: Seen) -> dict | list | None:  # noqa: C901 - one line a route
        fake, method = self.fake, seen.method
        path = [unquote(p) for p in seen.path.strip("/").split("/")] if seen.path != "/" else []
        if method == "GET" and path == ["check"]:
            return None
        if not self._authorized(seen):
            raise Refusal(401, "invalid authentication")
        match method, path:
            case "GET", ["auth"]:
                return None
            case "GET", ["system"]:
                return fake.system()
            case "PUT", ["system"]:
                return fake.update_system(seen.form)
            case "GET", ["instances"]:
                return [] if fake.generation == 3 else [
                    {"id": f"i-{n:08x}", "status": "active", "agent": True, "cpu": 0.25,
                     "memory": 0.5, "processes": 1, "private-ip": f"10.0.0.{n}",
                     "public-ip": "", "started": now()} for n in range(fake.instance_count)]
            case "GET", ["apps"]:
                return sorted(fake.apps.values(), key=lambda a: a["name"])
            case "POST", ["apps"]:
                return fake.create_app(seen.form)
            case "GET", ["apps", name]:
                return fake.app(name)
            case "DELETE", ["apps", name]:
                return fake.delete_app(name)
            case "POST", ["apps", name, "objects", *key]:
                return fake.upload(name, "/".join(key), seen.body)
            case "GET", ["apps", name, "objects", *key]:
                fake.app(name)
                data = fake.objects.get(f"{name}/{'/'.join(key)}")
                if data is None:
                    raise Refusal(404, f"object not found: {'/'.join(key)}")
                self._send(200, data, "application/octet-stream")
                raise _Sent
            case "GET", ["apps", name, "builds"]:
                fake.app(name)
                rows = sorted((b for b in fake.builds.values() if b["app"] == name),
                              key=lambda b: b["started"], reverse=True)
                return _limited(rows, seen.query)
            case "POST", ["apps", name, "builds"]:
                return fake.create_build(name, seen.form)
            case "GET", ["apps", name, "builds", build_id]:
                fake.app(name)
                build = fake.builds.get(build_id)
                if build is None or build["app"] != name:
                    raise Refusal(404, f"build not found: {build_id}")
                return build
            case "GET", ["apps", name, "releases"]:
                fake.app(name)
                rows = sorted((r for r in fake.releases.values() if r["app"] == name),
                              key=lambda r: r["serial"], reverse=True)
                shown = [_public(r) for r in _limited(rows, seen.query)]
                if fake.generation == 2:  # a v2 list leaves env empty
                    shown = [{**r, "env": ""} for r in shown]
                return shown
            case "POST", ["apps", name, "releases"]:
                return _public(fake.create_release(name, seen.form))
            case "GET", ["apps", name, "releases", release_id]:
                return _public(fake.release(name, release_id))
            case "POST", ["apps", name, "releases", release_id, "promote"]:
                return fake.promote(name, release_id, seen.form)
            case "GET", ["apps", name, "services"]:
                fake.app(name)
                return list(fake.services.get(name, {}).values())
            case "PUT", ["apps", name, "services", service]:
                return fake.update_service(name, service, seen.form)
            case "GET", ["resources"]:
                return sorted(({k: v for k, v in r.items()} for r in fake.resources.values()),
                              key=lambda r: r["name"])
            case "OPTIONS", ["resources"]:
                kinds = ("webhook",) if fake.generation == 3 else V2_RESOURCE_KINDS
                return [{"name": kind, "parameters": []} for kind in kinds]
            case "POST", ["resources"]:
                return fake.create_resource(seen.form)
            case "GET", ["resources", name]:
                if name not in fake.resources:
                    raise Refusal(404, f"resource not found: {name}")
                return fake.resources[name]
            case "DELETE", ["resources", name]:
                return fake.delete_resource(name)
        raise Refusal(404, "")  # stdapi answers an unknown route with no body

    def _socket(self, seen: Seen) -> None:
        """The rack's websocket routes ("SOCKET": GET and Upgrade): a build's logs. Held
        open while the build runs, outside the rack's lock: the server's other threads
        keep answering."""
        fake = self.fake
        if not self._authorized(seen):
            raise Refusal(401, "invalid authentication")
        match seen.method, [unquote(p) for p in seen.path.strip("/").split("/")]:
            case "GET", ["apps", name, "builds", build_id, "logs"] if fake.logs_route:
                with fake._lock:
                    fake.app(name)
                    build = fake.builds.get(build_id)
                    if build is None or build["app"] != name:
                        raise Refusal(404, f"build not found: {build_id}")
                self._stream_logs(f"{name}/build/{build_id}/logs", build,
                                  follow=seen.headers.get("follow") == "true")
                return
        raise Refusal(404, "")

    def _stream_logs(self, key: str, build: dict, *, follow: bool) -> None:
        """The logs object's lines as text frames, as they are written; with `Follow`,
        until the build ends. Then an empty binary frame (the end of data) and the close;
        `ERROR: <message>` instead when the rack is set to fail (`logs_error`)."""
        fake = self.fake
        protocol = ServerProtocol()
        response = protocol.accept(Request(self.path, Headers(self.headers.items())))
        protocol.send_response(response)
        self.close_connection = True
        if not self._write(protocol) or response.status_code != 101:
            return
        sent = 0
        while not fake.closing.is_set():
            with fake._lock:
                data, error = fake.objects.get(key, b""), fake.logs_error
                ended = build["status"] in ("complete", "failed")
            if error:
                protocol.send_text(f"ERROR: {error}".encode())
                break
            for line in data[sent:].splitlines(keepends=True):
                protocol.send_text(line.decode(errors="replace").encode())
            sent = len(data)
            if not self._write(protocol) or self._client_left():
                return
            if ended or not follow:
                protocol.send_binary(b"")
                break
            fake.closing.wait(0.02)
        protocol.send_close()
        self._write(protocol)

    def _write(self, protocol: ServerProtocol) -> bool:
        """Send what the protocol has to send; False if the client is gone."""
        try:
            for data in protocol.data_to_send():
                self.wfile.write(data)
        except OSError:
            return False
        return True

    def _client_left(self) -> bool:
        """The client closed its socket (or sent its close: it sends nothing else)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable)

    def _refuse(self, refused: Refusal) -> None:
        wants_json = "application/json" in self.headers.get("Accept", "")
        if refused.status == 404 and not refused.message:
            self._send(404, b"", "text/plain")
        elif self.fake.generation == 3 and wants_json:
            self._send(refused.status, json.dumps({"error": refused.message}).encode(),
                       "application/json")
        else:
            self._send(refused.status, refused.message.encode() + b"\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(body)


class _Sent(Exception):
    """The route wrote its own answer (an object's raw bytes)."""


def _public(release: dict) -> dict:
    return {k: v for k, v in release.items() if k != "serial"}
