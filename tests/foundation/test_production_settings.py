"""Production-safe defaults: an operator who follows the README gets a console that passes
`manage.py check --deploy`; one who forgets a key is told which in one line; the demo
user is never an administrator; secrets at rest move to a new key with one command."""

import os
import subprocess
import sys
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console import encryption
from console.demo import DEMO_PASSWORD, DEMO_USERNAME, ensure_demo
from notifications.delivery import endpoints
from notifications.delivery.signing import decrypt_secret
from notifications.models import WebhookEndpoint

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# The production environment the README documents ("Running it for real").
PRODUCTION = {
    "SECRET_KEY": "Zq8v0c2XlT9n4pHk1s7RbW3eJmYfD6uAoGiL5tNxQyCrVwEaKdSjPgMhUzBFcI",
    "ENCRYPTION_KEYS": "ctZgGirLojbVG21297l1ThY0WVwGWwPYr3dyTcX7uY4=",
    "ALLOWED_HOSTS": "console.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_PROXY_SSL_HEADER": "true",
}
SETTINGS_NAMES = {*PRODUCTION, "DEBUG", "SECURE_HSTS_PRELOAD", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                  "TRUSTED_PROXIES"}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process with only the given console settings in its environment."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_NAMES}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR,
                          env={**base, **env}, capture_output=True, text=True, timeout=120)


def issues(result: subprocess.CompletedProcess) -> set[str]:
    return {word.strip("():") for line in result.stderr.splitlines()
            for word in line.split() if word.startswith("(") and "." in word}


def test_check_deploy_passes_in_the_documented_production_environment():
    result = manage("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    # HSTS preload is the operator's choice (README): the one warning left when it is off.
    assert issues(result) == {"security.W021"}, result.stderr


def test_check_deploy_is_clean_once_hsts_preload_is_turned_on():
    result = manage("check", "--deploy", **PRODUCTION, SECURE_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stderr


def test_check_deploy_warns_when_the_https_settings_are_left_out():
    result = manage("check", "--deploy", SECRET_KEY=PRODUCTION["SECRET_KEY"],
                    ENCRYPTION_KEYS=PRODUCTION["ENCRYPTION_KEYS"])
    assert {"security.W004", "security.W008", "security.W012",
            "security.W016"} <= issues(result), result.stderr


@pytest.mark.parametrize("missing, words", [
    ("SECRET_KEY", "SECRET_KEY is not set: with DEBUG off"),
    ("ENCRYPTION_KEYS", "ENCRYPTION_KEYS is not set: with DEBUG off"),
])
def test_without_its_keys_the_console_refuses_to_start_and_says_why(missing, words):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert words in result.stderr.strip().splitlines()[-1]


def test_a_key_that_is_not_a_fernet_key_is_refused():
    result = manage("check", **{**PRODUCTION, "ENCRYPTION_KEYS": "not-a-key"})
    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr.strip().splitlines()[-1]


def test_a_bad_trusted_proxies_value_is_refused_at_start():
    result = manage("check", **{**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"})
    assert result.returncode != 0
    assert "TRUSTED_PROXIES holds 'proxy.local'" in result.stderr.strip().splitlines()[-1]


def test_the_broker_can_have_a_redis_of_its_own():
    show = "from django.conf import settings; print(settings.CELERY_BROKER_URL)"
    apart = manage("shell", "-v", "0", "-c", show, DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/5",
                   CELERY_BROKER_URL="redis://broker.internal:6379/0")
    assert apart.stdout.strip() == "redis://broker.internal:6379/0", apart.stderr
    shared = manage("shell", "-v", "0", "-c", show, DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/5")
    assert shared.stdout.strip() == "redis://127.0.0.1:6379/5", shared.stderr


def test_with_debug_on_the_console_starts_without_keys():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


# The demo user


def test_the_demo_user_is_an_ordinary_user(db):
    assert ensure_demo()
    demo = get_user_model().objects.get(username=DEMO_USERNAME)
    assert not demo.is_superuser and not demo.is_staff
    assert demo.check_password(DEMO_PASSWORD)


def test_an_old_published_demo_superuser_loses_its_powers(db, make_user):
    demo = get_user_model().objects.create_superuser(DEMO_USERNAME, "d@example.com",
                                                     DEMO_PASSWORD)
    changed = make_user("boss", is_superuser=True, is_staff=True)
    migration = import_module("racks.migrations.0005_demo_user_not_staff")
    migration.strip_published_demo_user(apps, None)
    demo.refresh_from_db()
    changed.refresh_from_db()
    assert not demo.is_superuser and not demo.is_staff
    assert changed.is_superuser and changed.is_staff


def test_a_demo_user_whose_password_was_changed_is_left_alone(db):
    demo = get_user_model().objects.create_superuser(DEMO_USERNAME, "d@example.com",
                                                     "a-private-password-42")
    import_module("racks.migrations.0005_demo_user_not_staff").strip_published_demo_user(
        apps, None)
    demo.refresh_from_db()
    assert demo.is_superuser


# Secrets at rest


def test_webhook_secrets_move_to_a_new_key_with_one_command(member, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    endpoint, secret = endpoints.create_endpoint(
        member, url="https://hooks.example.com/a", events=["*"], format="standard",
        description="")
    endpoints.rotate_secret(endpoint)
    endpoint.refresh_from_db()
    previous = decrypt_secret(endpoint.previous_secret_encrypted)
    assert previous == secret
    current = decrypt_secret(endpoint.secret_encrypted)

    settings.ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted the secrets of 1 webhook endpoint" in out.getvalue()
    settings.ENCRYPTION_KEYS = [new]  # the old key is gone: everything still decrypts
    endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert decrypt_secret(endpoint.secret_encrypted) == current
    assert decrypt_secret(endpoint.previous_secret_encrypted) == previous


def test_a_secret_under_a_dropped_key_no_longer_decrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    stored = encryption.encrypt("whsec_x")
    settings.ENCRYPTION_KEYS = [new]
    with pytest.raises(encryption.InvalidToken):
        encryption.decrypt(stored)


def test_secrets_from_before_encryption_keys_still_decrypt(settings):
    settings.ENCRYPTION_KEYS = []  # an older console: the key came from SECRET_KEY
    stored = encryption.encrypt("whsec_y")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert encryption.decrypt(stored) == "whsec_y"
    assert Fernet(settings.ENCRYPTION_KEYS[0]).decrypt(
        encryption.reencrypt(stored).encode()) == b"whsec_y"
