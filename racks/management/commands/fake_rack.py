"""Start a fake Convox rack on 127.0.0.1 (racks.fake_rack), to connect to the console by
hand: it prints the host and password to give on the organization page."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser

from racks.fake_rack import FakeRack


class Command(BaseCommand):
    help = "Run a fake Convox rack (v2 or v3) on 127.0.0.1 until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generation", type=int, choices=(2, 3), default=3)
        parser.add_argument("--port", type=int, default=0, help="Default: any free port.")
        parser.add_argument("--name", default="fake")
        parser.add_argument("--password", default=None, help="Default: a random one.")
        parser.add_argument("--tls", action="store_true",
                            help="Serve HTTPS with a self-signed certificate made now.")
        parser.add_argument("--signing-key", default="",
                            help="v3: sign events with this webhook_signing_key (hex).")
        parser.add_argument("--settle-seconds", type=float, default=2.0,
                            help="How long an app, build or promote takes.")

    def handle(self, *args: object, **options: object) -> None:
        fake = FakeRack(generation=options["generation"], port=options["port"],
                        name=options["name"], password=options["password"],
                        tls=options["tls"], signing_key=options["signing_key"],
                        settle_seconds=options["settle_seconds"]).start()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        self.stdout.write(f"Fake v{fake.generation} rack {fake.name} running.\n"
                          f"  host:     {fake.url}\n  password: {fake.password}\n")
        if fake.tls:
            self.stdout.write(f"  tls fingerprint: {fake.fingerprint}\n")
        self.stdout.write("The console must allow it: OUTBOUND_ALLOWED_NETWORKS=127.0.0.0/8. "
                          "Ctrl-C stops it.\n")
        self.stdout.flush()
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            fake.close()
