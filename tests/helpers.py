"""Small helpers the tests share."""

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
              interval: float = 0.05) -> object:
    """Poll until the condition is truthy; fail the test with a clear message if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
