"""Run the whole console in one process: migrate, demo data, worker threads, web server."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from console import server
from console.demo import DEMO_PASSWORD, DEMO_USERNAME, ensure_demo
from console.embedded import start_worker_threads


class Command(BaseCommand):
    help = "Run the console (web server, websockets and an embedded worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not run Celery in this process (a separate worker does).")
        parser.add_argument("--demo", action="store_true",
                            help="Create the demo organization, user and rack on a console "
                                 "without users, even with DEBUG off (always with it on).")

    def handle(self, *args: object, host: str, port: int, no_worker: bool, demo: bool,
               **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        # The demo user's password is public: only on a development console, or on request.
        if (settings.DEBUG or demo) and ensure_demo():
            self.stdout.write("Created the demo organization, user and rack.")
        if not no_worker and settings.CELERY_BROKER_URL.startswith("memory://"):
            start_worker_threads()
        self.stdout.write(f"\nRack Console is running: open http://{host}:{port}/\n")
        if settings.DEBUG or demo:
            self.stdout.write(
                f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD} (the demo user, if it exists)\n")
        else:
            self.stdout.write("Make an administrator with `manage.py createsuperuser`.\n")
        # The web process as the Procfile starts it, with its request and message caps.
        server.main(["-b", host, "-p", str(port)])
