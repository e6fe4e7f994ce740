"""A Redis of its own for each pytest-xdist worker (`scripts/test --fast` runs two).

pytest-django gives each worker its own test database, where ids start at 1 in each; on one
shared Redis the workers would clear each other's cache, throttle each other by those ids,
hear each other's live groups and run each other's Celery tasks. So each worker starts a
redis-server that keeps nothing, on a free port, and points REDIS_URL at it. This runs on
import, as a plugin (`-p tests.parallel`), because pytest-django reads the settings, and
with them REDIS_URL, before any conftest is loaded. Without xdist it does nothing.
"""

import atexit
import os
import shutil
import socket
import subprocess

from tests.helpers import free_port, wait_for


def _own_redis() -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("Parallel tests start a redis-server each: install redis-server.")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--daemonize", "no", "--maxclients", "1000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(process.kill)

    def answering() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0
    wait_for(answering, timeout=10, what=f"redis-server on port {port} did not answer")
    return f"redis://127.0.0.1:{port}/0"

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["REDIS_URL"] = _own_redis()
