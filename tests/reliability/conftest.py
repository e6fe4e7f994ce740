"""Fixtures of the reliability tests: a cluster of real processes and a webhook receiver.

Every process a fixture starts is killed in its teardown, even when the test fails; the
teardown runs before the test database is flushed, so nothing holds it open.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.cluster import Cluster, WebhookReceiver


@pytest.fixture
def cluster(transactional_db, tmp_path: Path) -> Iterator[Cluster]:
    """Its own redis-server; the test adds web processes, workers and beat as it needs."""
    with Cluster(tmp_path / "cluster") as started:
        try:
            yield started
        finally:
            started.close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
