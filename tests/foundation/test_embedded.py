"""The embedded default: with no DATABASE_URL or REDIS_URL, tasks still run, for real.

Runs in a subprocess so that it gets the embedded settings (SQLite, memory broker, worker
threads in the process) whatever the test run itself is configured with.
"""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import os, time, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.conf import settings
assert settings.CELERY_BROKER_URL == "memory://", settings.CELERY_BROKER_URL
assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
from console.demo import ensure_demo
from console.embedded import start_worker_threads
from notifications.models import Notification
from racks.drivers import driver_for
from racks.models import Rack
assert ensure_demo()
start_worker_threads()
rack = Rack.objects.get(name="demo-rack")
app = driver_for(rack).create_app(rack, "web")
build = driver_for(rack).start_build(app, fail=True)
release = driver_for(rack).set_env(app, {"A": "1"})
driver_for(rack).promote(release)
wanted = {f"[demo-rack] Build {build.id} failed for app web",
          f"[demo-rack] Finished rolling deploy of release {release.id} for app web"}
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if wanted <= set(Notification.objects.values_list("message", flat=True)):
        print("EMBEDDED-OK")
        break
    time.sleep(0.1)
else:
    print(list(Notification.objects.values_list("message", flat=True)))
os._exit(0)
"""


def test_the_embedded_default_runs_builds_and_deploys_in_process(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
               LOCAL_RACK_BUILD_SECONDS="0.2", LOCAL_RACK_DEPLOY_SECONDS="0.2",
               DJANGO_SETTINGS_MODULE="console.settings")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=90, cwd=Path(__file__).resolve().parents[2])
    assert "EMBEDDED-OK" in done.stdout, done.stdout + done.stderr
