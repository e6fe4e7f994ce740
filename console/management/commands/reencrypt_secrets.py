"""`manage.py reencrypt_secrets`: encrypt every secret kept at rest again under the first
of ENCRYPTION_KEYS, after a new key was put first (or ENCRYPTION_KEYS first set)."""

from django.core.management.base import BaseCommand

from notifications.delivery.signing import reencrypt_secrets


class Command(BaseCommand):
    help = ("Encrypt every stored secret (webhook signing secrets) again under the first "
            "key of ENCRYPTION_KEYS; then older keys can be removed.")

    def handle(self, *args: object, **options: object) -> None:
        endpoints = reencrypt_secrets()
        self.stdout.write(f"Re-encrypted the secrets of {endpoints} webhook endpoint(s) "
                          "under the first key of ENCRYPTION_KEYS.")
