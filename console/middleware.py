"""Middleware of the console's own."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from racks.events import acting_for


class OneThreadPerRequest:
    """Run the whole middleware chain in the request's thread, not hop by hop.

    Under ASGI Django runs middleware that can be async as async, and each of Django's
    own (sessions, CSRF, auth, messages...) then moves the request to a thread and back
    for its `process_request` and again for its `process_response`: sixteen trips
    through the event loop for a page. That loop is also the one writing notifications
    to every open socket of the process, so under a push each trip waits behind it.
    Django makes every middleware above a sync-only one sync; this one, last in the
    list, makes the chain one trip. Django's own steps around the view (its view
    middleware, the view, a template response) still cross once each: five in all
    (tests/foundation/test_middleware.py).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class ActingUser:
    """The events a request causes name its user as their actor (racks.events).

    The user is read when an event is emitted, not here: an API request's token user is
    known only once DRF authenticates it in the view (which sets it on this request).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_for(lambda: _username(request)):
            return self.get_response(request)


def _username(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else ""
