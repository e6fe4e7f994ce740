"""Settings, read from the environment (django-environ).

With nothing set the console runs embedded: SQLite, an in-process channel layer and an
in-memory Celery broker served by a worker thread inside the web process (see
`manage.py runconsole`). With DATABASE_URL and REDIS_URL it runs on PostgreSQL and Redis
with any number of web and worker processes.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    REDIS_URL=(str, ""),
    REGISTRATION_OPEN=(bool, True),
    WEBHOOK_ALLOWED_NETWORKS=(list, []),
    LOCAL_RACK_BUILD_SECONDS=(float, 3.0),
    LOCAL_RACK_DEPLOY_SECONDS=(float, 3.0),
    INGEST_RATE=(str, "6000/min"),
    CONSOLE_URL=(str, "http://127.0.0.1:8000"),
)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-" + "x" * 20)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
CONSOLE_URL = env("CONSOLE_URL").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "racks",
    "notifications",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: see its docstring.
    "console.middleware.OneThreadPerRequest",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has a web thread and a worker thread writing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
elif env.bool("DATABASE_POOL", default=False):
    # Under ASGI each request runs in a thread of its own, so a persistent connection
    # (CONN_MAX_AGE) would be left behind by every request; a pool hands connections back.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": env.int("DATABASE_POOL_SIZE", default=20)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve static files straight from the app folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Redis carries the channel layer, the broker and the cache when it is configured;
# without it everything stays in this process.
REDIS_URL = env("REDIS_URL")


def redis_database(url: str) -> int:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    path = parts.path.strip("/")
    if path.isdigit():
        return int(path)
    return int(parse_qs(parts.query).get("db", ["0"])[0] or 0)


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group message is one PUBLISH, heard once by each web process
            # (notifications.fanout hands it to the process' sockets). The list-based
            # layer stores a copy per socket and drops what a busy process has not
            # popped within its expiry. Pub/sub keeps nothing for a process that is
            # not listening: those sockets catch up by `resume` (a Redis restart closes
            # them so that they do; notifications.consumers).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels ignore Redis' database number: two consoles sharing one
            # Redis would hear each other's organizations. The prefix keeps them apart.
            "CONFIG": {"hosts": [REDIS_URL],
                       "prefix": env("CHANNELS_PREFIX",
                                     default=f"console.{redis_database(REDIS_URL)}.")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# A delivery may wait hours for its retry: the broker must not hand it to another worker
# before then (Redis' default visibility timeout is one hour).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 12 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes the database connections around every task unless told to reuse them; a
# new PostgreSQL connection per task costs more than a delivery. console/celery.py drops a
# broken or old one before each task instead, as Django does before each request.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE: dict = {
    # Deliveries whose broker message was lost are found by their rows and re-queued.
    "sweep-deliveries": {"task": "notifications.delivery.tasks.sweep_deliveries",
                         "schedule": env.int("SWEEP_INTERVAL_SECONDS", default=60)},
    "send-email-digests": {"task": "notifications.delivery.tasks.send_digests",
                           "schedule": 60.0},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Rack Console <console@localhost>")

REGISTRATION_OPEN = env("REGISTRATION_OPEN")
WEBHOOK_ALLOWED_NETWORKS = env("WEBHOOK_ALLOWED_NETWORKS")
# Outgoing deliveries (notifications/delivery): a whole attempt's deadline, how long past
# it a worker's claim lasts, and how long a due delivery waits before the sweeper re-queues it.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
DELIVERY_LEASE_MARGIN_SECONDS = env.float("DELIVERY_LEASE_MARGIN_SECONDS", default=30.0)
DELIVERY_SWEEP_GRACE_SECONDS = env.float("DELIVERY_SWEEP_GRACE_SECONDS", default=120.0)
# How many deliveries one task claims and sends at once (webhooks concurrently).
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=50)
if env("DELIVERY_RETRY_SCHEDULE", default=""):  # seconds before each attempt, e.g. "0,1,2"
    DELIVERY_RETRY_SCHEDULE = env.list("DELIVERY_RETRY_SCHEDULE", cast=float)
LOCAL_RACK_BUILD_SECONDS = env("LOCAL_RACK_BUILD_SECONDS")
LOCAL_RACK_DEPLOY_SECONDS = env("LOCAL_RACK_DEPLOY_SECONDS")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "racks.api.authentication.TokenAuthentication",  # knox's, one query a request
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only (the API contract), and JSON that PostgreSQL can store and Python can parse
    # without a RecursionError (a 500).
    "DEFAULT_PARSER_CLASSES": ["racks.api.parsers.StrictJSONParser"],
    "DEFAULT_THROTTLE_RATES": {"ingest": env("INGEST_RATE"), "login": "10/min",
                               "login_address": "300/min",
                               "register": "30/min"},
}

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": None,
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rack Console API",
    "DESCRIPTION": "Racks, apps, builds, releases, resources, the notification feed, "
    "preferences and outgoing webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ serves Swagger UI from the sidecar package: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Preference rules and webhooks share one list of event types ("*" and the catalogue's).
    "ENUM_NAME_OVERRIDES": {"EventTypeChoice": "notifications.delivery_api.EVENT_CHOICES"},
    # The ingest URL is a plain Django view; this hook writes its operation into the schema.
    # <id:...> (console.converters) is an integer path parameter, as <int:...> was.
    "PATH_CONVERTER_OVERRIDES": {"id": int},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "racks.ingest.document_ingest",
                             "console.api_urls.describe_path_parameters"],
}

SESSION_COOKIE_SAMESITE = "Lax"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}

SWEEP_INTERVAL = timedelta(seconds=env.int("SWEEP_INTERVAL_SECONDS", default=60))
