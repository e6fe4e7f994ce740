"""Who is knocking, for the limits on every door: the client's address, the username as
the limits key it, and the answer when django-axes has locked a login out.

Logins (dashboard, admin, API token) are counted by django-axes (settings: AXES_*), per
account and per client address, with a cool-off. Other doors (register, password reset)
count attempts with console.rate_limit, per address and, for a password reset, per
email. Every per-address limit reads the address from `client_address`: `REMOTE_ADDR`,
unless TRUSTED_PROXIES says which proxies' X-Forwarded-For to believe, so a client cannot
pick a new address per request.
"""

import hashlib
import ipaddress
import unicodedata
from functools import lru_cache
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCKED_OUT = ("Too many failed logins for this account or from this address: try again "
              "in {minutes} minutes.")


def normalise_username(name: str) -> str:
    """The key a username is counted under: " Dave", "dave " and "DAVE" are one account.

    Only the limits use it; authentication compares usernames as Django does.
    """
    return unicodedata.normalize("NFKC", name.strip()).casefold()


def axes_username(request: Any, credentials: dict | None = None) -> str:
    """AXES_USERNAME_CALLABLE: the normalised username of a login attempt.

    The credentials given to authenticate() come first; else the form (request.POST), or
    the parsed JSON body of an API request (DRF's request.data; its request.POST is empty).
    """
    name: object = None
    if credentials:
        name = credentials.get("username")
    if name is None:
        data = getattr(request, "data", None)
        if not isinstance(data, dict):
            data = getattr(request, "POST", {})
        name = data.get("username")
    return normalise_username(name) if isinstance(name, str) else ""


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> int | tuple[Network, ...]:
    """TRUSTED_PROXIES read: a count of proxies, or their networks."""
    if len(proxies) == 1 and proxies[0].strip().isdigit():
        return int(proxies[0])
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _counted_as(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address a client is counted under. One IPv6 host commonly holds a whole /64,
    so an IPv6 client is counted by its /64: a new address per request gains nothing."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def client_address(request: Any) -> str:
    """The client's IP address (AXES_CLIENT_IP_CALLABLE, and every per-address limit).

    REMOTE_ADDR, unless TRUSTED_PROXIES is set: with a count N, the address N hops back
    along X-Forwarded-For (each proxy appends the address it was reached from); with
    networks, the nearest address in the chain that is not one of them. A hop that is
    not an IP address ends the walk at the last trusted one.
    """
    meta = request.META
    remote = _address(meta.get("REMOTE_ADDR") or "") or ipaddress.IPv4Address("0.0.0.0")
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not trusted:
        return _counted_as(remote)
    forwarded = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if hop.strip()]
    if isinstance(trusted, int):
        hops = [*forwarded, str(remote)]
        return _counted_as(_address(hops[max(0, len(hops) - 1 - trusted)]) or remote)
    found = remote
    for hop in [str(remote), *reversed(forwarded)]:
        address = _address(hop)
        if address is None:
            break
        found = address
        if not any(address in network for network in trusted):
            break
    return _counted_as(found)


class AccountAndAddressHandler(AxesDatabaseHandler):
    """AXES_HANDLER: django-axes' own counting, with a looser limit per address than per
    account, so that one attacked account (or one person's typos) does not lock out the
    whole office behind the same address.

    axes locks when its failure count reaches AXES_FAILURE_LIMIT; the count it compares is
    the larger of the account's failures and the address' failures scaled so that
    LOGIN_ADDRESS_FAILURE_LIMIT of them reach the account limit.
    """

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        # One queryset per AXES_LOCKOUT_PARAMETERS entry, in its order: username, address.
        by_account, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials))
        return max(by_account, by_address * settings.AXES_FAILURE_LIMIT
                   // settings.LOGIN_ADDRESS_FAILURE_LIMIT)


def lockout_response(request: HttpRequest, original_response: Any = None,
                     credentials: dict | None = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429, as JSON under /api/, else the login page saying why.

    It never says whether the account exists: every username is counted alike.
    """
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = LOCKED_OUT.format(minutes=minutes)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html",
                          {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def email_key(email: str) -> str:
    """What a password reset is counted under: the normalised email, hashed (no addresses
    in the cache, and any characters made safe for a cache key)."""
    return hashlib.sha256(normalise_username(email).encode("utf-8", "replace")).hexdigest()
