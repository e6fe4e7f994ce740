"""Deliveries and rack work wait in queues of their own, and the Procfile's workers
consume every queue between them."""

import re
from pathlib import Path

import pytest

from console.celery import app

ROOT = Path(__file__).resolve().parents[2]


def _queue_of(task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


@pytest.mark.parametrize("task", ["notifications.delivery.tasks.deliver_batch",
                                  "notifications.delivery.tasks.sweep_deliveries",
                                  "notifications.delivery.tasks.send_digests"])
def test_delivery_work_goes_to_the_deliveries_queue(task):
    assert _queue_of(task) == "deliveries"


@pytest.mark.parametrize("task", ["racks.tasks.sync_rack", "racks.tasks.follow_build",
                                  "racks.tasks.follow_promote", "racks.tasks.run_build"])
def test_rack_work_goes_to_the_racks_queue(task):
    assert _queue_of(task) == "racks"


def test_the_procfiles_workers_consume_every_queue():
    procfile = (ROOT / "Procfile").read_text()
    consumed = {queue for line in procfile.splitlines() if " worker " in line
                for queue in re.search(r"-Q (\S+)", line).group(1).split(",")}
    assert consumed == {queue.name for queue in app.conf.task_queues}


def test_a_worker_started_without_queues_consumes_them_all():
    """The embedded worker and a plain `celery worker` take every kind of task."""
    assert set(app.amqp.queues) >= {"celery", "deliveries", "racks"}
