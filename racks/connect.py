"""Connecting an existing Convox rack to an organization, in one step, and disconnecting it.

Connecting checks the password (`GET /auth`), reads the rack (`GET /system`), refuses a
rack too old for the console, and registers the rack's ingest URL as a webhook on the
rack (`POST /resources` kind=webhook), so its events reach the pipeline. It never calls
`PUT /system`. The password is stored encrypted (console.encryption) and never shown
again. Connecting is an outbound probe to a host a person typed: it is throttled per user
and per organization, and it goes through the same outbound safety as webhooks.
"""

import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from console import rate_limit
from console.encryption import encrypt, reencrypt
from racks.caps import CapReached, check_room
from racks.convox import OLDEST_V2_VERSION, api_for, version_too_old
from racks.driver import RackError, check_name
from racks.lifecycle import delete_rack
from racks.models import Capped, Generation, Organization, Rack, RackDriverKind
from racks.rack_api import RackAPI, normalize_fingerprint, normalize_host
from racks.sync import first_sync_at


class ConnectThrottled(RackError):
    """Too many connect attempts; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Connected:
    rack: Rack
    warnings: list[str] = field(default_factory=list)
    # v3: the command that makes the rack sign its events, with a new key to set.
    signing_key_command: str = ""


def ingest_url(rack: Rack) -> str:
    """Where the rack must send its events: the console as CONSOLE_URL names it."""
    return settings.CONSOLE_URL + rack.ingest_path


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_warning(rack_host: str) -> str:
    """A warning when the rack cannot reach the console's ingest URL (CONSOLE_URL on
    loopback and the rack elsewhere), else empty."""
    console = urlsplit(settings.CONSOLE_URL).hostname or ""
    rack = urlsplit(rack_host).hostname or ""
    if _is_loopback(console) and not _is_loopback(rack):
        return (f"CONSOLE_URL is {settings.CONSOLE_URL}, a loopback address: the rack cannot "
                "reach the ingest URL, so its events will not arrive. Set CONSOLE_URL to "
                "the console's public address.")
    return ""


def _throttle(user: AbstractBaseUser, organization: Organization) -> None:
    for scope, subject in (("rack_connect_user", str(user.pk)),
                           ("rack_connect_organization", str(organization.pk))):
        wait = rate_limit.seconds_until_allowed(scope, subject)
        if wait:
            raise ConnectThrottled(
                f"Too many attempts to connect racks ({rate_limit.describe(scope)} "
                f"{'per person' if scope.endswith('user') else 'per organization'}): "
                f"try again in {wait} s.", wait)


def _reported_count(system: dict) -> int | None:
    count = system.get("count")
    return count if isinstance(count, int) and 0 < count < 100_000 else None


def _text(value: object, most: int) -> str:
    return value[:most] if isinstance(value, str) else ""


def generation_of(version: str) -> str:
    """v3 racks report a semver (3.24.7); v2 racks a 14-digit timestamp."""
    return Generation.V2 if version.isdigit() else Generation.V3


def connect_rack(organization: Organization, name: str, *, host: str, password: str,
                 tls_fingerprint: str = "", user: AbstractBaseUser) -> Connected:
    """Connect the Convox rack at `host` as `name`; RackError says what failed.

    Nothing is stored unless every step worked: a rack whose webhook could not be
    registered is not half-connected.
    """
    check_name("The rack", name)
    _throttle(user, organization)
    host = normalize_host(host)
    pin = normalize_fingerprint(tls_fingerprint)
    if not password:
        raise RackError("Give the rack password (convox rack params, or RACK_URL's password).")
    if len(password) > 500:
        raise RackError("A rack password is at most 500 characters.")
    api = RackAPI(host, password, pin)
    api.act("GET", "/auth")
    system = api.read("/system")
    if not isinstance(system, dict):
        raise RackError("The rack's GET /system answer is not a rack: is this a Convox "
                        "rack's API host?")
    version = _text(system.get("version"), 40)
    generation = generation_of(version)
    if version_too_old(generation, version):
        raise RackError(f"The rack runs version {version}, older than {OLDEST_V2_VERSION}, "
                        "the oldest the console can drive: update the rack first "
                        "(convox rack update).")
    count = _reported_count(system)
    try:
        with transaction.atomic():
            check_room(organization, Capped.RACKS)
            rack = Rack.objects.create(
                organization=organization, name=name, driver=RackDriverKind.CONVOX,
                host=host, password_encrypted=encrypt(password), tls_fingerprint=pin,
                generation=generation, version=version,
                provider=_text(system.get("provider"), 40),
                status=_text(system.get("status"), 40),
                # v3 reports neither: "not reported", never the local rack's defaults.
                instance_count=count,
                instance_type=_text(system.get("type"), 40) if count else "",
                synced_at=timezone.now(), next_sync_at=first_sync_at())
            rack.webhook_resource = register_webhook(api, rack)
            rack.save(update_fields=["webhook_resource"])
    except CapReached as refused:
        raise RackError(str(refused)) from None
    except IntegrityError:
        raise RackError(f"A rack named {name} already exists in {organization.name}.") \
            from None
    connected = Connected(rack)
    warning = loopback_warning(host)
    if warning:
        connected.warnings.append(warning)
    if generation == Generation.V3:
        key = secrets.token_hex(32)
        connected.signing_key_command = (
            f"convox rack params set webhook_signing_key={key} -r {rack.name}")
    return connected


def register_webhook(api: RackAPI, rack: Rack) -> str:
    """Register the rack's ingest URL as a webhook resource on the rack; its name."""
    name = f"console-{rack.ingest_token[:8].lower().replace('_', '-')}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    url = ingest_url(rack)
    made = api.create("/resources", {"kind": "webhook", "name": name,
                                     "parameters": f"Url={quote(url, safe='')}"})
    return made.get("name", name) if isinstance(made, dict) else name


def disconnect_rack(rack: Rack) -> list[str]:
    """Remove the rack from the console, first removing the console's webhook from the
    rack when it answers; returns warnings (the webhook could not be removed)."""
    warnings = []
    if rack.is_connected and rack.webhook_resource:
        try:
            api_for(rack).act("DELETE", f"/resources/{rack.webhook_resource}")
        except RackError as failed:
            warnings.append(f"The console's webhook {rack.webhook_resource} is still on the "
                            f"rack ({failed}); delete it with convox rack resources delete.")
    delete_rack(rack)
    return warnings


def reencrypt_rack_passwords() -> int:
    """Encrypt every connected rack's password again under the first of ENCRYPTION_KEYS
    (`manage.py reencrypt_secrets`); how many racks were rewritten."""
    count = 0
    with transaction.atomic():  # the rows locked, so a reconnect meanwhile is not undone
        for rack in Rack.objects.select_for_update().exclude(password_encrypted="").only(
                "pk", "password_encrypted"):
            rack.password_encrypted = reencrypt(rack.password_encrypted)
            rack.save(update_fields=["password_encrypted"])
            count += 1
    return count
