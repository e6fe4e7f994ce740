"""Webhook secrets: made, kept encrypted at rest, and used to sign (Standard Webhooks).

The signing needs the secret itself, so it cannot be hashed like a password; it is
encrypted with Fernet under a key derived from settings.SECRET_KEY, so a database dump
alone does not reveal it. Changing SECRET_KEY makes the stored secrets unreadable:
rotate each endpoint's secret after that.
"""

import base64
import hashlib
import secrets
from datetime import datetime

from cryptography.fernet import Fernet
from django.conf import settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from notifications.models import WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"rack-console webhook secrets\0" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


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
