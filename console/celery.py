"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os
import threading
import time

from celery import Celery
from celery.signals import task_prerun
from django.db import close_old_connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from console import tracing  # noqa: F401 - connects the request id's hand-off into tasks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["notifications.delivery"])  # notifications/delivery/tasks.py

# How long a worker thread keeps its database connection between tasks.
WORKER_CONNECTION_MAX_AGE = 300.0

_worker_thread = threading.local()


@task_prerun.connect
def _refresh_database_connections(**kwargs: object) -> None:
    """Drop this thread's connection if it broke or passed its age (see below)."""
    _worker_thread.runs_tasks = True
    close_old_connections()


@receiver(connection_created)
def _keep_worker_connections(connection: object, **kwargs: object) -> None:
    """A worker thread runs task after task: it keeps its connection for a while.

    CONN_MAX_AGE is 0 for the web process (each ASGI request runs on a thread of its own),
    which in a worker would open a new PostgreSQL connection for every task, costing more
    than the delivery it sends. A worker's threads are few and long-lived, so each keeps
    one; with a connection pool (DATABASE_POOL) the pool already does this.
    """
    settings = connection.settings_dict
    if (getattr(_worker_thread, "runs_tasks", False) and settings.get("CONN_MAX_AGE") == 0
            and not settings.get("OPTIONS", {}).get("pool")):
        connection.close_at = time.monotonic() + WORKER_CONNECTION_MAX_AGE
