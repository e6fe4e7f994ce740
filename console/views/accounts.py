"""Registering an account (logging in and out are Django's own views)."""

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.forms import RegisterForm
from racks import invitations


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Create an account. With registration closed, the holder of a live invitation link
    may still register (invitation-only sign-up), and lands on that invitation."""
    token = request.POST.get("invitation") or request.GET.get("invitation") or ""
    invited = invitations.by_link(token) is not None
    if not settings.REGISTRATION_OPEN and not invited:
        return render(request, "registration/register_closed.html", status=403)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if invited:
            return redirect("claim-invitation", token=token)
        return redirect("organizations")
    return render(request, "registration/register.html",
                  {"form": form, "invitation": token if invited else ""})
