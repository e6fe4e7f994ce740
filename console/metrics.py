"""Prometheus metrics: what the console counts, and `/metrics`, which serves them.

Every process counts for itself. With PROMETHEUS_MULTIPROC_DIR set (an empty folder that
all of one host's web and worker processes share, emptied before they start),
prometheus-client writes each process' counts there and a scrape of any web process adds
them up for the host; each host serves its own `/metrics`. Without it (the embedded
default, one process) the counts live in the process.

What the database knows (the outbox's backlog, the oldest delivery waiting, disabled
endpoints) is read at scrape time by a collector rather than counted.

`/metrics` is not public: it needs `Authorization: Bearer <METRICS_TOKEN>`, and answers
404 while METRICS_TOKEN is unset.
"""

import atexit
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from console.health import sweeper_state
from notifications.models import Delivery, DeliveryStatus, WebhookEndpoint

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

EVENTS_INGESTED = Counter(
    "console_events_ingested", "Requests to ingest URLs, by outcome: stored, duplicate, "
    "or refused_<status code>.", ["outcome"])
NOTIFICATIONS_STORED = Counter(
    "console_notifications_stored", "Notifications stored, by source (rack or console).",
    ["source"])
DELIVERIES = Counter(
    "console_deliveries", "Delivery attempts by channel and outcome: delivered, retry "
    "(failed, to be tried again) or failed (given up).", ["channel", "outcome"])
ENDPOINTS_DISABLED = Counter(
    "console_webhook_endpoints_disabled", "Webhook endpoints disabled by the console "
    "(the receiver answered 410).")
WEBSOCKETS_OPEN = Gauge(
    "console_websockets_open", "Live-feed websockets open, per process.",
    multiprocess_mode="livesum")
PUSH_LATENCY = Histogram(
    "console_push_latency_seconds", "From a notification's storing (in its transaction, "
    "just before the commit) to its frame written to the last of a web process' sockets "
    "that hear it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REQUEST_LATENCY = Histogram(
    "console_request_seconds", "Time to answer, by endpoint (ingest, feed).", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


@contextmanager
def timed(endpoint: str) -> Iterator[None]:
    with REQUEST_LATENCY.labels(endpoint).time():
        yield


class FromTheDatabase(Collector):
    """Gauges computed when scraped: what the outbox holds and which endpoints are off."""

    def describe(self) -> list:
        return []  # registering must not query the database (it may not exist yet)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = (Delivery.objects
                   .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
                   .aggregate(count=Count("id"), oldest=Min("created_at")))
        yield GaugeMetricFamily("console_outbox_backlog",
                                "Deliveries waiting to be sent or being sent.",
                                value=waiting["count"])
        age = ((timezone.now() - waiting["oldest"]).total_seconds()
               if waiting["oldest"] else 0.0)
        yield GaugeMetricFamily("console_outbox_oldest_pending_seconds",
                                "Age of the oldest delivery waiting to be sent.", value=age)
        yield GaugeMetricFamily("console_webhook_endpoints_off",
                                "Webhook endpoints currently disabled.",
                                value=WebhookEndpoint.objects.filter(enabled=False).count())
        sweeper = sweeper_state()
        yield GaugeMetricFamily("console_sweeper_late",
                                "1 when beat's delivery sweeper has not run for three "
                                "intervals.", value=1.0 if sweeper["late"] else 0.0)


_DATABASE = FromTheDatabase()
if not MULTIPROCESS:
    REGISTRY.register(_DATABASE)


def _registry() -> CollectorRegistry:
    """What a scrape reads: this process' counts, or with several processes all of theirs
    (each process' REGISTRY then holds only its own)."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_DATABASE)
    return registry


def _authorised(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    if not _authorised(request):
        return HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401,
                            content_type="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


if MULTIPROCESS:
    # A process that ends cleanly takes its live gauges (open sockets) out of the sum.
    atexit.register(multiprocess.mark_process_dead, os.getpid())
