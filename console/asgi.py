"""The ASGI entry point: HTTP through Django, websockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.body_limit import BodyLimit  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": BodyLimit(django_asgi_app),
    "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
})


def settle_garbage_collector() -> None:
    """Keep the collector's pauses off the live feed.

    A web process with 1,000 open sockets tracks a few million objects, and a full
    collection stalls every socket of the process for ~100 ms. Pushing one notification to
    1,000 sockets makes tens of thousands of short-lived objects: at the default
    threshold (700) many are still alive when a young collection runs, get promoted, and
    bring the next full collection closer. Collect the young generation less often, so
    they die young, and leave what start-up made (modules, URL patterns, settings) out
    of every collection for good.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


settle_garbage_collector()
