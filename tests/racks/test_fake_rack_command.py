"""`manage.py fake_rack` starts a rack a person can connect to, and stops on a signal."""

import os
import signal
import subprocess
import sys

from django.conf import settings


def test_the_command_prints_a_host_and_password_that_connect(org, owner):
    from racks.connect import connect_rack

    env = {**os.environ, "DEBUG": "true"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_rack", "--generation", "2", "--tls"],
        cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True, env=env)
    try:
        lines = {}
        for _ in range(4):
            key, _, value = process.stdout.readline().strip().partition(":")
            lines[key.strip()] = value.strip()
        host, password = lines["host"], lines["password"]
        assert host.startswith("https://127.0.0.1:")
        rack = connect_rack(org, "byhand", host=host, password=password, user=owner,
                            tls_fingerprint=lines["tls fingerprint"]).rack
        assert rack.generation == "2"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
