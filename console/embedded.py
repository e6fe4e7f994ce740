"""The in-process parts of the embedded default: a Celery worker and beat in threads.

With the in-memory broker, tasks must run in the process that queued them; the worker
runs as threads of the web process, with real retries and countdowns (not eager mode).
"""

import threading

from celery.beat import EmbeddedService
from django.conf import settings

from console.celery import app


def start_worker_threads(concurrency: int = 4) -> None:
    worker = app.WorkController(
        pool_cls="threads", concurrency=concurrency, loglevel="WARNING",
        hostname="embedded@localhost", without_heartbeat=True, without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
    settings.VAR_DIR.mkdir(exist_ok=True)
    beat = EmbeddedService(app, thread=True,
                           schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule"))
    beat.start()
