"""The ASGI entry point: HTTP through Django, websockets through Channels."""

import gc
import os
import sys
import threading
import time

import autobahn.util
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.body_limit import BodyLimit  # noqa: E402
from notifications.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": BodyLimit(django_asgi_app),
    "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
})


# Seconds between full collections in a web process (see below).
FULL_COLLECTION_SECONDS = 300


def settle_garbage_collector() -> None:
    """Keep the collector's pauses off the live feed.

    A web process with 1,000 open sockets tracks a few million objects, and a full
    collection stalls every socket of the process for 100 to 400 ms; left to itself the
    collector ran one every few seconds while notifications were pushed (measured with
    bench/live_bench.py), which made the push's p99. Pushing one notification to 1,000
    sockets makes tens of thousands of short-lived objects: collect the young generation
    less often so that they die young, leave what start-up made (modules, URL patterns,
    settings) out of every collection for good, and run the full collection on a clock
    instead: one pause every few minutes, not every few seconds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1_000_000_000)

    def collect_now_and_then() -> None:
        while True:
            time.sleep(FULL_COLLECTION_SECONDS)
            gc.collect()

    threading.Thread(target=collect_now_and_then, name="full-gc", daemon=True).start()


def keep_the_push_cheap() -> None:
    """Two settings of this process for pushing one notification to many sockets.

    autobahn, daphne's websocket protocol, builds a coloured debug line for every frame
    it sends even while debug logging is off (the arguments are built before the logger
    drops them), and with click installed (Celery needs it) each colour is a
    `click.style` call: a fifth of the server's time per pushed frame. Without click's
    colours the line costs far less (bench/live_bench.py: CPU per frame ~15 -> ~12 us).

    The event loop writes to the sockets while views run in threads. Each socket write
    is a system call that lets go of the GIL, and a view thread that takes it meanwhile
    keeps it for up to the switch interval: 5 ms by default, a long time for a push
    that writes a frame every 15 us. A shorter interval hands it back sooner.
    """
    autobahn.util._HAS_CLICK = False
    sys.setswitchinterval(0.0005)


settle_garbage_collector()
keep_the_push_cheap()
