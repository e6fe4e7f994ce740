"""Real web processes (console.server: daphne) on the pytest database and a headless
Debian Chromium."""

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection
from playwright.sync_api import Browser, sync_playwright

from tests.helpers import database_url, free_port, wait_for

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def web_server(transactional_db) -> Iterator[Callable[[], str]]:
    """Start web processes on free ports, as the Procfile starts them (console.server);
    each call starts one more. All stop at the end of the test."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.fail("Browser tests run on PostgreSQL and Redis: set DATABASE_URL and "
                    "REDIS_URL (scripts/test does).")
    processes: list[subprocess.Popen] = []
    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "false",
           "LOCAL_RACK_BUILD_SECONDS": "0.3", "LOCAL_RACK_DEPLOY_SECONDS": "0.3"}

    def start() -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "console.server", "-b", "127.0.0.1", "-p", str(port)],
            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the web process exited: {process.stderr.read().decode()}")
            try:
                return httpx.get(base + "/accounts/login/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(answering, timeout=30)
        return base

    try:
        yield start
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def browser(monkeypatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM
    # calls (fixtures, flush) are still plain synchronous code, so let Django run them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()
