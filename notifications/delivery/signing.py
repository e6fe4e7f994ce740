"""Webhook secrets: made, kept encrypted at rest, and used to sign (Standard Webhooks).

The signing needs the secret itself, so it cannot be hashed like a password; it is
encrypted at rest under settings.ENCRYPTION_KEYS (console.encryption), so a database dump
alone does not reveal it.
"""

import base64
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from console import encryption
from notifications.models import WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encrypt_secret(secret: str) -> str:
    return encryption.encrypt(secret)


def decrypt_secret(token: str) -> str:
    return encryption.decrypt(token)


def reencrypt_secrets() -> int:
    """Encrypt every endpoint's stored secrets again under the first of ENCRYPTION_KEYS.
    How many endpoints were rewritten."""
    count = 0
    with transaction.atomic():  # the rows locked, so a rotation meanwhile is not undone
        for endpoint in WebhookEndpoint.objects.select_for_update().only(
                "pk", "secret_encrypted", "previous_secret_encrypted"):
            endpoint.secret_encrypted = encryption.reencrypt(endpoint.secret_encrypted)
            if endpoint.previous_secret_encrypted:
                endpoint.previous_secret_encrypted = encryption.reencrypt(
                    endpoint.previous_secret_encrypted)
            endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])
            count += 1
    return count


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while a rotation's overlap lasts."""
    found = [decrypt_secret(endpoint.secret_encrypted)]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_until
            and endpoint.previous_secret_until > timezone.now()):
        found.append(decrypt_secret(endpoint.previous_secret_encrypted))
    return found


class Signer:
    """Signs with an endpoint's secrets, decrypted once for a whole batch of deliveries
    (a Fernet decryption costs more than the signature itself)."""

    def __init__(self, secrets_: list[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in secrets_]
        # With and without the prefix: the forms a receiver could echo back.
        self._shown_forms = [form for secret in secrets_
                             for form in (secret, secret.removeprefix(SECRET_PREFIX))]

    def redact(self, text: str) -> str:
        """`text` with the secrets blanked out: what the delivery log may keep of a body
        (a receiver that echoes what it was told must not put a secret in the log)."""
        for form in self._shown_forms:
            text = text.replace(form, "[signing secret]")
        return text

    def headers(self, webhook_id: str, when: datetime, body: str) -> dict[str, str]:
        """The Standard Webhooks headers; one `v1,` signature per secret, space-separated."""
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": " ".join(webhook.sign(webhook_id, when, body)
                                          for webhook in self._webhooks),
        }


def signer_for(endpoint: WebhookEndpoint) -> Signer:
    return Signer(signing_secrets(endpoint))
