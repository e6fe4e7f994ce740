"""A fake Convox rack: a small HTTP server on 127.0.0.1 that answers as a real rack's API.

It follows the fact sheet (shared/convox-rack-api.md): form-encoded requests, Basic auth
with the rack password (`convox:<password>`), `ok\\n` for actions, errors as text or, on a
v3 rack asked with `Accept: application/json`, as `{"error"}`; apps, builds and promotes
change status a moment after they are asked for, as on a real rack; v2 and v3 flavours
(GET /system differs, PUT /system is 501 on v3, v3 has webhook resources only). Every
webhook registered on it (`POST /resources` kind=webhook) receives the envelopes a real
rack sends, signed with the rack's `webhook_signing_key` when it has one (v3).

The tests drive the console's Convox driver against it, and `manage.py fake_rack` starts
one so that a person can connect a rack by hand. It holds its state in memory and is not
a rack: nothing runs.
"""

import hashlib
import ipaddress
import itertools
import json
import queue
import secrets
import ssl
import string
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from racks.fake_rack_api import V2_RESOURCE_KINDS, Handler, Refusal, Seen, now
from racks.simulator import signature_header

__all__ = ["FakeRack", "Refusal", "Seen", "Delivery", "self_signed_certificate"]

V2_VERSION = "20240105120000"
V3_VERSION = "3.24.7"
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass
class Delivery:
    """One envelope the rack POSTed to a webhook, and how the receiver answered."""

    url: str
    envelope: dict
    headers: dict[str, str]
    status: int | None = None
    error: str = ""


def _id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))


def self_signed_certificate(host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for `host` (and 127.0.0.1) made now, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "rack.pem", directory / "rack.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class FakeRack:
    """A rack of generation 2 or 3 answering on 127.0.0.1; `start()`, then `stop()`.

    Knobs for tests: `fail_next_build`, `fail_next_promote` (the app rolls back),
    `settle_seconds` (how long an app, build or promote takes), `signing_key` (v3),
    `hold_builds`, `logs_route` and `logs_error` (a build's logs socket).
    """

    def __init__(self, *, generation: int = 3, password: str | None = None,
                 name: str = "fake", version: str | None = None, tls: bool = False,
                 settle_seconds: float = 0.3, signing_key: str = "",
                 port: int = 0) -> None:
        if generation not in (2, 3):
            raise ValueError("A rack is of generation 2 or 3.")
        self.generation = generation
        self.password = password or secrets.token_urlsafe(18)
        self.name = name
        self.version = version or (V2_VERSION if generation == 2 else V3_VERSION)
        self.tls = tls
        self.settle_seconds = settle_seconds
        self.signing_key = signing_key
        self.instance_count, self.instance_type = 3, "t3.small"
        self.status = "running"
        self.fail_next_build = False
        self.fail_next_promote = False
        # A running build stays running until finish_build(id), its logs written by
        # build_log(id, line): a test sees its logs stream before it ends.
        self.hold_builds = False
        self._finishers: dict[str, Callable[[], None]] = {}
        # Whether GET /apps/{app}/builds/{id}/logs upgrades to a websocket (a rack without
        # the route answers 404), and the failure its sockets report instead of logs.
        self.logs_route = True
        self.logs_error = ""
        self.closing = threading.Event()  # open sockets end when the rack stops
        self.requests: list[Seen] = []
        self.deliveries: list[Delivery] = []
        self.apps: dict[str, dict] = {}
        self.builds: dict[str, dict] = {}
        self.releases: dict[str, dict] = {}
        self.services: dict[str, dict[str, dict]] = {}
        self.resources: dict[str, dict] = {}
        self.objects: dict[str, bytes] = {}
        self._serial = itertools.count(1)
        self._lock = threading.RLock()
        self._timers: list[threading.Timer] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self._tmp: tempfile.TemporaryDirectory | None = None
        # Envelopes wait here for the sender thread: a rack answers the API call first
        # and posts its events after, in order.
        self._outbox: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self.certificate_der = b""

    # Running

    def start(self) -> "FakeRack":
        rack = self
        self.closing.clear()

        class BoundHandler(Handler):
            fake = rack

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), BoundHandler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        if self.tls:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory()
                cert, key = self_signed_certificate("rack.example.test", Path(self._tmp.name))
                self._cert = (cert, key)
                self.certificate_der = ssl.PEM_cert_to_DER_cert(cert.read_text())
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, self._cert))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"fake-rack-{self._port}", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_events, daemon=True,
                                        name=f"fake-rack-events-{self._port}")
        self._sender.start()
        return self

    def _send_events(self) -> None:
        while (item := self._outbox.get()) is not None:
            self._deliver(*item)

    def stop(self) -> None:
        """Stop answering (the port stays this rack's: `start()` again brings it back)."""
        self.closing.set()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(15)
            self._sender = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "FakeRack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}"

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(self.certificate_der).hexdigest()

    def later(self, work: Callable[[], None], delay: float | None = None) -> None:
        """Run `work` after the rack's settle time, as a rack finishes what it started."""
        def locked() -> None:
            with self._lock:
                work()
        timer = threading.Timer(self.settle_seconds if delay is None else delay, locked)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def settled(self) -> bool:
        """Whether everything the rack started has finished (no work is waiting its turn)."""
        return not any(timer.is_alive() for timer in self._timers)

    # Events

    def webhooks(self) -> list[str]:
        return [r["url"] for r in self.resources.values() if r["type"] == "webhook"]

    def emit(self, action: str, data: dict[str, str], status: str = "success") -> None:
        """POST the envelope to every registered webhook, as the rack's event sender."""
        envelope = {"action": action, "status": status, "timestamp": now(),
                    "data": {"rack": self.name, **data}}
        if self.generation == 3:
            envelope["data"].setdefault("actor", "convox")
        for url in self.webhooks():
            self._outbox.put((url, envelope))

    def _deliver(self, url: str, envelope: dict) -> None:
        body = json.dumps(envelope).encode()
        headers: dict[str, str] = {}
        if self.generation == 3:
            headers["Content-Type"] = "application/json"
            if self.signing_key:
                keys = [bytes.fromhex(k) for k in self.signing_key.split(",")]
                headers["Convox-Signature"] = signature_header(keys, body)
        delivery = Delivery(url, envelope, headers)
        self.deliveries.append(delivery)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                delivery.status = answer.status
        except urllib.error.HTTPError as refused:
            delivery.status = refused.code
        except OSError as error:
            delivery.error = str(error)  # fire and forget, as a rack does

    # The API, one method a route

    def system(self) -> dict:
        if self.generation == 3:
            return {"count": 0, "domain": "", "name": self.name, "outputs": {},
                    "parameters": {}, "provider": "k8s", "rack-domain": "",
                    "region": "", "status": "running", "type": "", "version": self.version}
        return {"count": self.instance_count, "domain": "", "name": self.name,
                "outputs": {}, "parameters": {"InstanceCount": str(self.instance_count),
                                              "InstanceType": self.instance_type,
                                              "Password": "****"},
                "provider": "aws", "rack-domain": "", "region": "us-east-1",
                "status": self.status, "type": self.instance_type, "version": self.version}

    def update_system(self, form: dict[str, str]) -> None:
        if self.generation == 3:
            raise Refusal(501, "unimplemented")
        changed: dict[str, str] = {}
        if form.get("version"):
            self.version = changed["version"] = form["version"]
        if form.get("count"):
            self.instance_count = int(form["count"])
            changed["count"] = form["count"]
        if form.get("type"):
            self.instance_type = changed["type"] = form["type"]
        self.status = "updating"
        self.emit("rack:update", changed)

        def done() -> None:
            self.status = "running"
        self.later(done)

    def app(self, name: str) -> dict:
        found = self.apps.get(name)
        if found is None:
            raise Refusal(404, f"app not found: {name}")
        return found

    def create_app(self, form: dict[str, str]) -> dict:
        name = form.get("name", "")
        if not name:
            raise Refusal(400, "name required")
        if name in self.apps:
            raise Refusal(409, f"app already exists: {name}")
        app = {"generation": "3" if self.generation == 3 else form.get("generation", "2"),
               "locked": False, "name": name, "release": "",
               "router": f"{name}.{self.name}.convox.cloud",
               "status": "creating" if self.generation == 2 else "running",
               "parameters": {}}
        self.apps[name] = app
        self.services[name] = {}

        def created() -> None:
            app["status"] = "running"
            self.emit("app:create", {"name": name, "app": name})
        self.later(created)
        return app

    def delete_app(self, name: str) -> None:
        app = self.app(name)
        if app["locked"]:
            if self.generation == 3:
                raise Refusal(409, f"app is locked: {name}")
            raise Refusal(400, f"stack {self.name}-{name} is protected from deletion")
        app["status"] = "deleting"

        def deleted() -> None:
            self.apps.pop(name, None)
            self.services.pop(name, None)
            self.emit("app:delete", {"name": name, "app": name})
        self.later(deleted)

    def upload(self, app: str, key: str, body: bytes) -> dict:
        self.app(app)
        self.objects[f"{app}/{key}"] = body
        return {"Url": f"object://{app}/{key}"}

    def create_build(self, app_name: str, form: dict[str, str]) -> dict:
        app = self.app(app_name)
        url = form.get("url", "")
        if not url.startswith(f"object://{app_name}/") or url[9:] not in self.objects:
            raise Refusal(400, f"could not read source: {url or 'no url'}")
        build_id, fails = _id("B"), self.fail_next_build
        self.fail_next_build = False
        build = {"app": app_name, "description": form.get("description", ""),
                 "ended": ZERO_TIME, "entrypoint": "", "git-sha": "", "id": build_id,
                 "logs": "", "manifest": "services:\n  web:\n    build: .\n",
                 "process": "", "reason": "", "release": "", "started": now(),
                 "status": "created"}
        self.builds[build_id] = build
        self.objects[f"{app_name}/build/{build_id}/logs"] = b""

        def log(line: str) -> None:
            self.build_log(build_id, line)

        def running() -> None:
            build["status"] = "running"
            log("Building: .")
            if self.hold_builds:
                self._finishers[build_id] = finished
            else:
                self.later(finished)

        def finished() -> None:
            build["ended"] = now()
            build["logs"] = f"object://{app_name}/build/{build_id}/logs"
            if fails:
                log("ERROR: exit status 1")
                build["status"], build["reason"] = "failed", "exit status 1"
                self.emit("build:create", {"id": build_id, "app": app_name,
                                           "message": "exit status 1"}, status="error")
                return
            release = self._new_release(app, build=build_id, env=self._latest_env(app_name))
            build["release"], build["status"] = release["id"], "complete"
            log(f"Build complete: release {release['id']}")
            self.emit("build:create", {"id": build_id, "app": app_name,
                                       "release_id": release["id"]})
            self.emit("release:create", {"id": release["id"], "app": app_name})
        self.later(running)
        return build

    def build_log(self, build_id: str, line: str) -> None:
        """Write a line of a build's logs (its logs object, and its logs sockets')."""
        with self._lock:
            self.objects[f"{self.builds[build_id]['app']}/build/{build_id}/logs"] += \
                line.encode() + b"\n"

    def finish_build(self, build_id: str) -> None:
        """End a build held running (`hold_builds`), as it would have ended by itself."""
        with self._lock:
            self._finishers.pop(build_id)()

    def _latest_release(self, app_name: str) -> dict | None:
        mine = [r for r in self.releases.values() if r["app"] == app_name]
        return max(mine, key=lambda r: r["serial"]) if mine else None

    def _latest_env(self, app_name: str) -> str:
        latest = self._latest_release(app_name)
        return latest["env"] if latest else ""

    def _new_release(self, app: dict, *, build: str, env: str, description: str = "") -> dict:
        release = {"app": app["name"], "build": build, "created": now(),
                   "description": description, "env": env, "id": _id("R"),
                   "manifest": "services:\n  web:\n    build: .\n",
                   "serial": next(self._serial)}
        self.releases[release["id"]] = release
        return release

    def create_release(self, app_name: str, form: dict[str, str]) -> dict:
        app = self.app(app_name)
        latest = self._latest_release(app_name)
        build = form.get("build") or (latest["build"] if latest else "")
        release = self._new_release(app, build=build, env=form.get("env", ""),
                                    description=form.get("description", ""))
        self.emit("release:create", {"id": release["id"], "app": app_name})
        return release

    def release(self, app_name: str, release_id: str) -> dict:
        self.app(app_name)
        found = self.releases.get(release_id)
        if found is None or found["app"] != app_name:
            raise Refusal(404, f"release not found: {release_id}")
        return found

    def promote(self, app_name: str, release_id: str, form: dict[str, str]) -> None:
        app, release = self.app(app_name), self.release(app_name, release_id)
        if app["status"] != "running" and form.get("force") != "true":
            raise Refusal(403, "app is currently updating")
        if not release["build"]:
            raise Refusal(400, "release has no build")
        current = self.releases.get(app["release"])
        if current is not None and current["serial"] > release["serial"]:
            raise Refusal(400, "can not promote an older release, try rollback")
        fails, self.fail_next_promote = self.fail_next_promote, False
        app["status"] = "updating"
        self.emit("release:promote", {"id": release_id, "app": app_name}, status="start")
        services = self.services.setdefault(app_name, {})
        services.setdefault("web", {"name": "web", "count": 1,
                                    "cpu": 256 if self.generation == 2 else 250,
                                    "memory": 512, "domain": app["router"],
                                    "ports": [{"balancer": 443, "certificate": "",
                                               "container": 3000}]})

        def rolled_back() -> None:
            app["status"] = "running"

        def settled() -> None:
            if fails:
                app["status"] = "rollback"
                if self.generation == 3:
                    self.emit("app:promote:errored", {"id": release_id, "app": app_name,
                                                      "message": "deployment failed"},
                              status="error")
                else:
                    self.emit("release:promote", {"id": release_id, "app": app_name,
                                                  "message": "rollback"}, status="error")
                self.later(rolled_back)
                return
            app["release"], app["status"] = release_id, "running"
            if self.generation == 3:
                self.emit("app:promote:completed", {"id": release_id, "app": app_name})
            else:
                self.emit("release:promote", {"id": release_id, "app": app_name})
        self.later(settled)

    def update_service(self, app_name: str, service: str, form: dict[str, str]) -> None:
        app = self.app(app_name)
        found = self.services.get(app_name, {}).get(service)
        if found is None:
            raise Refusal(404, f"service not found: {service}")
        for name in ("count", "cpu", "memory"):
            if form.get(name):
                if not form[name].isdigit():
                    raise Refusal(400, f"invalid {name}: {form[name]}")
                found[name] = int(form[name])
        app["status"] = "updating"
        self.emit("release:scale", {"id": app["release"], "app": app_name})

        def done() -> None:
            app["status"] = "running"
        self.later(done)

    def create_resource(self, form: dict[str, str]) -> dict:
        kind = form.get("kind", "")
        kinds = ("webhook",) if self.generation == 3 else V2_RESOURCE_KINDS
        if kind not in kinds:
            raise Refusal(400, f"invalid resource type: {kind or 'none'}")
        name = form.get("name") or f"{kind}-{secrets.randbelow(9000) + 1000}"
        if name in self.resources:
            raise Refusal(409, f"resource already exists: {name}")
        parameters = {}
        for pair in form.get("parameters", "").split("&"):
            key, _, value = pair.partition("=")
            if key:
                parameters[unquote(key)] = unquote(value)
        resource = {"apps": [], "name": name, "parameters": parameters,
                    "status": "creating", "type": kind, "url": parameters.get("Url", "")}
        self.resources[name] = resource

        def created() -> None:
            resource["status"] = "running"
            self.emit("resource:create", {"name": name, "type": kind})
        if kind == "webhook":
            resource["status"] = "running"  # the configmap is written at once
        else:
            self.later(created)
        return resource

    def delete_resource(self, name: str) -> None:
        resource = self.resources.get(name)
        if resource is None:
            raise Refusal(404, f"resource not found: {name}")
        resource["status"] = "deleting"

        def deleted() -> None:
            self.resources.pop(name, None)
            self.emit("resource:delete", {"name": name, "type": resource["type"]})
        if resource["type"] == "webhook":
            deleted()
        else:
            self.later(deleted)
