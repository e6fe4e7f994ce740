"""POST a realistic stream of rack events to a rack's ingest URL, as the rack would."""

import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from racks.models import Rack
from racks.simulator import encode, rack_events, signature_header


class Command(BaseCommand):
    help = "Send a stream of rack events to a rack's ingest URL over HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rack", help="The rack: its id, its name, or <org-slug>/<name>.")
        parser.add_argument("--rate", type=float, default=2.0, help="Events per second.")
        parser.add_argument("--count", type=int, default=20, help="How many events (0: forever).")
        parser.add_argument("--url", default=settings.CONSOLE_URL,
                            help="The console's base URL (default: CONSOLE_URL).")
        parser.add_argument("--seed", type=int, default=None)

    def _rack(self, ref: str) -> Rack:
        racks = Rack.objects.select_related("organization")
        if ref.isdigit():
            found = racks.filter(pk=int(ref))
        elif "/" in ref:
            slug, name = ref.split("/", 1)
            found = racks.filter(organization__slug=slug, name=name)
        else:
            found = racks.filter(name=ref)
        found = list(found[:2])
        if not found:
            raise CommandError(f"No rack {ref!r}.")
        if len(found) > 1:
            raise CommandError(f"Several racks are named {ref!r}: say <org-slug>/<name>.")
        return found[0]

    def handle(self, *args: object, rack: str, rate: float, count: int, url: str,
               seed: int | None, **options: object) -> None:
        if rate <= 0:
            raise CommandError("--rate must be above zero.")
        target = self._rack(rack)
        ingest_url = url.rstrip("/") + target.ingest_path
        keys = target.signing_keys
        sent = failed = 0
        pause = 1.0 / rate
        with httpx.Client(timeout=10) as client:
            for envelope in rack_events(target.name, seed):
                if count and sent + failed >= count:
                    break
                body = encode(envelope)
                headers = {"Content-Type": "application/json"}
                if keys:
                    headers["Convox-Signature"] = signature_header(keys, body)
                try:
                    answer = client.post(ingest_url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise CommandError(f"Cannot reach {ingest_url}: {exc}") from None
                if answer.status_code == 202:
                    sent += 1
                else:
                    failed += 1
                    self.stderr.write(f"{answer.status_code}: {answer.text[:200]}")
                self.stdout.write(f"{envelope['action']} {envelope['status']} -> "
                                  f"{answer.status_code}")
                time.sleep(pause)
        self.stdout.write(f"Sent {sent} events to {target.name}; {failed} refused.")
