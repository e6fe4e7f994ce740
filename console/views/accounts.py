"""Accounts: registering, a password reset, and your API tokens (logging in and out are
Django's own views; django-axes counts their failures).

The register and password reset pages count their attempts per client address, and the
reset also per email (console.rate_limit): past the limit they answer 429, the same
whether or not an account exists.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console import rate_limit
from console.forms import RegisterForm, TokenForm
from racks import accounts, invitations
from racks.throttling import client_address, email_key

TOO_MANY = "Too many attempts from here: try again in {minutes} minutes."


def _too_many(request: HttpRequest, wait: float) -> HttpResponse:
    minutes = max(1, round(wait / 60))
    response = render(request, "registration/locked_out.html",
                      {"message": TOO_MANY.format(minutes=minutes)}, status=429)
    response["Retry-After"] = str(int(wait))
    return response


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Create an account. With registration closed, the holder of a live invitation link
    may still register (invitation-only sign-up), and lands on that invitation."""
    token = request.POST.get("invitation") or request.GET.get("invitation") or ""
    invited = invitations.by_link(token) is not None
    if not settings.REGISTRATION_OPEN and not invited:
        return render(request, "registration/register_closed.html", status=403)
    if request.method == "POST":
        wait = rate_limit.seconds_until_allowed("register", client_address(request))
        if wait:
            return _too_many(request, wait)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if invited:
            return redirect("claim-invitation", token=token)
        return redirect("organizations")
    return render(request, "registration/register.html",
                  {"form": form, "invitation": token if invited else ""})


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, counted per client address and per (normalised) email."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        email = request.POST.get("email", "")
        wait = max(rate_limit.seconds_until_allowed("password_reset_address",
                                                    client_address(request)),
                   rate_limit.seconds_until_allowed("password_reset", email_key(email)))
        if wait:
            return _too_many(request, wait)
        return super().post(request, *args, **kwargs)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """Your API tokens: make one (its key shown on this answer only), list, revoke."""
    form = TokenForm(request.POST if "create" in request.POST else None)
    key = None
    if "revoke" in request.POST:
        if accounts.revoke_token(request.user, request.POST["revoke"]):
            messages.success(request, "The token is revoked: it no longer works.")
        return redirect("settings-tokens")
    if form.is_bound and form.is_valid():
        _, key = accounts.issue_token(request.user, name=form.cleaned_data["name"],
                                      days=form.cleaned_data["expires_in_days"])
        form = TokenForm()
    tokens = [(accounts.token_id(token), token)
              for token in accounts.tokens_of(request.user).order_by("-created")]
    return render(request, "settings/tokens.html", {
        "form": form, "key": key, "tokens": tokens,
        "max_days": settings.API_TOKEN_MAX_DAYS,
    }, status=400 if form.is_bound and not form.is_valid() else 200)
