"""Secrets kept at rest (webhook signing secrets, connected racks' passwords): encrypted
with Fernet so that a database dump alone does not reveal them.

`settings.ENCRYPTION_KEYS` holds one or more Fernet keys: the first encrypts, every one
decrypts (MultiFernet), so a key is rotated by putting a new one first, running
`manage.py reencrypt_secrets`, then dropping the old one. While DEBUG is on and no key is
set, a key derived from SECRET_KEY stands in (settings refuse to start without keys when
DEBUG is off).

Secrets written before ENCRYPTION_KEYS existed were encrypted under that SECRET_KEY
derivation: it is kept as the last decrypting key so that `reencrypt_secrets` can move
them onto the real key.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed

__all__ = ["encrypt", "decrypt", "reencrypt", "InvalidToken"]


def _key_from_secret_key() -> bytes:
    # The derivation the console used before ENCRYPTION_KEYS: unchanged, so those
    # secrets still decrypt.
    digest = hashlib.sha256(b"rack-console webhook secrets\0" + settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest())


@cache
def _fernet() -> MultiFernet:
    keys = [Fernet(key) for key in settings.ENCRYPTION_KEYS]
    keys.append(Fernet(_key_from_secret_key()))  # decrypts older secrets; encrypts only alone
    return MultiFernet(keys)


def _forget_keys(*, setting: str, **kwargs: object) -> None:
    if setting in ("ENCRYPTION_KEYS", "SECRET_KEY"):
        _fernet.cache_clear()


setting_changed.connect(_forget_keys, dispatch_uid="console-encryption-keys")


def encrypt(plain: str) -> str:
    """The secret encrypted under the first key, as text for a TextField."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The secret back; raises InvalidToken when no key decrypts it."""
    return _fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret encrypted under the first key (for a key rotation)."""
    return _fernet().rotate(token.encode()).decode()
