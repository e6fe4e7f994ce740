"""`manage.py reencrypt_secrets`: encrypt every secret kept at rest again under the first
of ENCRYPTION_KEYS, after a new key was put first (or ENCRYPTION_KEYS first set)."""

from django.core.management.base import BaseCommand

from notifications.delivery.signing import reencrypt_secrets
from racks.connect import reencrypt_rack_passwords


class Command(BaseCommand):
    help = ("Encrypt every stored secret (webhook signing secrets, rack passwords) again "
            "under the first key of ENCRYPTION_KEYS; then older keys can be removed.")

    def handle(self, *args: object, **options: object) -> None:
        endpoints = reencrypt_secrets()
        racks = reencrypt_rack_passwords()
        self.stdout.write(f"Re-encrypted the secrets of {endpoints} webhook endpoint(s) and "
                          f"the passwords of {racks} connected rack(s) under the first key "
                          "of ENCRYPTION_KEYS.")
