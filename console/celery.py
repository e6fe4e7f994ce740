"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["notifications.delivery"])  # notifications/delivery/tasks.py


@task_prerun.connect
def _refresh_database_connections(**kwargs: object) -> None:
    """Drop this thread's connection if it broke or passed CONN_MAX_AGE (see settings)."""
    from django.db import close_old_connections

    close_old_connections()
