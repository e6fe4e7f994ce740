"""`manage.py fake_rack` starts a rack a person can connect to, and stops on a signal."""

import signal

from racks.connect import connect_rack
from tests.racks.conftest import fake_rack_process


def test_the_command_prints_a_host_and_password_that_connect(org, owner):
    with fake_rack_process("--generation", "2", "--tls") as (process, printed):
        host, password = printed["host"], printed["password"]
        assert host.startswith("https://127.0.0.1:")
        rack = connect_rack(org, "byhand", host=host, password=password, user=owner,
                            tls_fingerprint=printed["tls fingerprint"]).rack
        assert rack.generation == "2"
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
