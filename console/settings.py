"""Settings, read from the environment (django-environ).

With nothing set the console runs embedded: SQLite, an in-process channel layer and an
in-memory Celery broker served by a worker thread inside the web process (see
`manage.py runconsole`). With DATABASE_URL and REDIS_URL it runs on PostgreSQL and Redis
with any number of web and worker processes.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    REDIS_URL=(str, ""),
    REGISTRATION_OPEN=(bool, True),
    OUTBOUND_ALLOWED_NETWORKS=(list, []),
    WEBHOOK_ALLOWED_NETWORKS=(list, []),
    LOCAL_RACK_BUILD_SECONDS=(float, 3.0),
    LOCAL_RACK_DEPLOY_SECONDS=(float, 3.0),
    INGEST_RATE=(str, "6000/min"),
    CONSOLE_URL=(str, "http://127.0.0.1:8000"),
)

DEBUG = env("DEBUG")
# A development key only while DEBUG is on: a console in production signing sessions with a
# key from its public source code would let anyone forge a login.
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off the console needs a secret key of its own "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))').")
    SECRET_KEY = "dev-only-insecure-key-change-me-" + "x" * 20

# Fernet keys for secrets kept at rest (console.encryption): the first encrypts, all
# decrypt, so a new key goes first and an old one stays until `manage.py
# reencrypt_secrets` has run. Derived from SECRET_KEY only while DEBUG is on.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
if not ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "ENCRYPTION_KEYS is not set: with DEBUG off the console needs a Fernet key for "
        "secrets at rest (e.g. python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())').")
for _key in ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes); separate several keys with commas.") from None
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
    "axes",
    "csp",
    "channels",
    "racks",
    "notifications",
    "console",
]

MIDDLEWARE = [
    # First: probes answer on any host name and over plain HTTP (console/health.py).
    "console.health.Probes",
    "console.tracing.RequestIds",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.middleware.ActingUser",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Turns a login that django-axes refused into its lockout answer (racks.throttling).
    "axes.middleware.AxesMiddleware",
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
    # Tests get a file beside it rather than Django's shared in-memory database, whose
    # table locks fail at once instead of waiting: the embedded default's threads (web and
    # worker) meet the same waits in the tests as in use.
    DATABASES["default"].setdefault("TEST", {"NAME": f"{DATABASES['default']['NAME']}.test"})
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
    # Not a rule: its password_changed() hook revokes the user's API tokens and closes
    # their sockets on every path that sets a password (views, admin, changepassword).
    {"NAME": "racks.accounts.RevokeCredentialsOnPasswordChange"},
]

# django-axes checks every login (dashboard, admin, API token) before Django does, and
# counts failures per account and per client address in the database.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "racks.throttling.AccountAndAddressHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # in this order (the handler's)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)  # per account
# Per client address: looser, for the many people behind one office address.
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=100)
# A cool-off, never a permanent lock: a stranger must not be able to lock someone out.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
# Failures while locked out do not push the end of the cool-off further away.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "racks.throttling.axes_username"
AXES_CLIENT_IP_CALLABLE = "racks.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "racks.throttling.lockout_response"
# No start-up banner in every process' log; failures are still logged, as warnings.
AXES_VERBOSE = False
# Proxies in front of the console whose X-Forwarded-For is believed: a count of proxies
# ("1") or their networks ("10.0.0.0/8,192.168.0.0/16"). Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
if not (len(TRUSTED_PROXIES) == 1 and TRUSTED_PROXIES[0].strip().isdigit()):
    for _network in TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(_network.strip(), strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES holds {_network!r}: give a count of proxies (e.g. 1) or "
                "their networks (e.g. 10.0.0.0/8,192.168.0.0/16).") from None

API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)

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
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if path.isdigit():
        return int(path)
    return int(parse_qs(parts.query).get("db", ["0"])[0] or 0)


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group message is one PUBLISH, heard once by each web process
            # (notifications.live.fanout hands it to the process' sockets). The list-based
            # layer stores a copy per socket and drops what a busy process has not
            # popped within its expiry. Pub/sub keeps nothing for a process that is
            # not listening: those sockets catch up by `resume` (a Redis restart closes
            # them so that they do; notifications.live.consumer).
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
    # A Redis of its own for the broker, when one Redis no longer carries both (docs/operations.md).
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"

# Deliveries and rack work (syncs, following builds and promotes, which wait on a rack)
# have queues of their own, so a slow rack never holds up a webhook. A worker started
# without -Q consumes every queue listed here; the Procfile runs one kind of worker each.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("deliveries"), Queue("racks"))
CELERY_TASK_ROUTES = {
    "notifications.delivery.tasks.*": {"queue": "deliveries"},
    "racks.tasks.*": {"queue": "racks"},
}
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
# How often beat runs the delivery sweeper; /readyz reports it late after three of these.
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE: dict = {
    # Deliveries whose broker message was lost are found by their rows and re-queued.
    "sweep-deliveries": {"task": "notifications.delivery.tasks.sweep_deliveries",
                         "schedule": SWEEP_INTERVAL_SECONDS},
    "send-email-digests": {"task": "notifications.delivery.tasks.send_digests",
                           "schedule": 60.0},
    # Connected racks whose sync is due are read (racks.sync), each on its own schedule.
    "sync-connected-racks": {"task": "racks.tasks.sync_due_racks", "schedule": 15.0},
    "prune-old-records": {"task": "notifications.tasks.prune_old_records",
                          "schedule": env.float("RETENTION_PRUNE_INTERVAL_SECONDS",
                                                default=3600.0)},
}
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Retention (notifications.retention): notifications with their feed entries and
# deliveries, and finished deliveries with their attempt logs, are deleted past these ages,
# RETENTION_BATCH_SIZE rows a transaction, for at most RETENTION_PRUNE_SECONDS a run.
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=90)
# A "mark all read" of at most this many notifications can be undone (its answer lists
# them); the feed asks before marking more.
MARK_ALL_READ_UNDO_MAX = env.int("MARK_ALL_READ_UNDO_MAX", default=2000)
DELIVERY_LOG_RETENTION_DAYS = env.int("DELIVERY_LOG_RETENTION_DAYS", default=30)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=100)
RETENTION_PRUNE_SECONDS = env.float("RETENTION_PRUNE_SECONDS", default=50.0)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Rack Console <console@localhost>")
# Seconds: a mail server that never answers must not hold a delivery past its lease.
EMAIL_TIMEOUT = 15

REGISTRATION_OPEN = env("REGISTRATION_OPEN")
# How long an invitation waits for its answer (racks.invitations); the rates at which
# they may be sent are DEFAULT_THROTTLE_RATES' invite_user and invite_organization.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
# Private networks (CIDRs) that outgoing connections (webhooks) may reach anyway; the
# environment's WEBHOOK_ALLOWED_NETWORKS is the older name of the same list, still read.
OUTBOUND_ALLOWED_NETWORKS = [*env("OUTBOUND_ALLOWED_NETWORKS"),
                             *env("WEBHOOK_ALLOWED_NETWORKS")]
# Outgoing deliveries (notifications/delivery): a whole attempt's deadline, the most of a
# receiver's answer read, how long past the deadline a worker's claim lasts, and how long a
# due delivery waits before the sweeper re-queues it.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
WEBHOOK_MAX_RESPONSE_BYTES = env.int("WEBHOOK_MAX_RESPONSE_BYTES", default=64 * 1024)
DELIVERY_LEASE_MARGIN_SECONDS = env.float("DELIVERY_LEASE_MARGIN_SECONDS", default=30.0)
DELIVERY_SWEEP_GRACE_SECONDS = env.float("DELIVERY_SWEEP_GRACE_SECONDS", default=120.0)
# How many deliveries one task claims and sends at once (webhooks concurrently).
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=50)
# Seconds before each attempt ("0,1,2" in the environment): by default immediately, then
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; after the last, the delivery has failed.
DELIVERY_RETRY_SCHEDULE = env.list("DELIVERY_RETRY_SCHEDULE", cast=float,
                                   default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000])
# A rotated webhook secret still signs beside the new one this long; an endpoint that has
# failed for this long with no success between is disabled (notifications.delivery.endpoints).
WEBHOOK_SECRET_OVERLAP = timedelta(hours=24)
WEBHOOK_DISABLE_AFTER = timedelta(days=5)
# Caps (racks.caps): past one, adding answers a 4xx naming it; a rack's events past one
# are still stored as notifications, but the app or resource is not modelled.
MAX_RACKS_PER_ORGANIZATION = env.int("MAX_RACKS_PER_ORGANIZATION", default=50)
MAX_APPS_PER_RACK = env.int("MAX_APPS_PER_RACK", default=200)
MAX_RESOURCES_PER_RACK = env.int("MAX_RESOURCES_PER_RACK", default=200)
LOCAL_RACK_BUILD_SECONDS = env("LOCAL_RACK_BUILD_SECONDS")
LOCAL_RACK_DEPLOY_SECONDS = env("LOCAL_RACK_DEPLOY_SECONDS")
# Connected (Convox) racks (racks.rack_api, racks.sync): each API call's deadline, an
# upload's, and the most of an answer read (a rack's lists are larger than a webhook's "ok").
RACK_TIMEOUT_SECONDS = env.float("RACK_TIMEOUT_SECONDS", default=15.0)
RACK_UPLOAD_TIMEOUT_SECONDS = env.float("RACK_UPLOAD_TIMEOUT_SECONDS", default=90.0)
RACK_MAX_RESPONSE_BYTES = env.int("RACK_MAX_RESPONSE_BYTES", default=4 * 1024 * 1024)
# A running build's logs are read from the rack's logs websocket by one task for at most
# this long (well under CELERY_TASK_SOFT_TIME_LIMIT, with room for the calls around it),
# which then reschedules itself.
RACK_LOGS_STREAM_SECONDS = env.float("RACK_LOGS_STREAM_SECONDS", default=45.0)
# A build's source tarball, streamed to the rack's objects endpoint from the spooled upload.
SOURCE_UPLOAD_MAX_BYTES = env.int("SOURCE_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
# How often each connected rack is read; a rack that does not answer is read less often
# (doubling up to RACK_SYNC_MAX_BACKOFF_SECONDS) and is marked unreachable, and its
# members told, after RACK_UNREACHABLE_AFTER failed reads in a row.
RACK_SYNC_INTERVAL_SECONDS = env.float("RACK_SYNC_INTERVAL_SECONDS", default=60.0)
RACK_SYNC_MAX_BACKOFF_SECONDS = env.float("RACK_SYNC_MAX_BACKOFF_SECONDS", default=900.0)
RACK_UNREACHABLE_AFTER = env.int("RACK_UNREACHABLE_AFTER", default=3)
# How many builds and releases of each app a sync reads (the rack's `limit`).
RACK_SYNC_LIMIT = env.int("RACK_SYNC_LIMIT", default=10)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.rest.authentication.TokenAuthentication",  # knox's, one query a request
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only (the API contract), and JSON that PostgreSQL can store and Python can parse
    # without a RecursionError (a 500).
    "DEFAULT_PARSER_CLASSES": ["console.rest.parsers.StrictJSONParser"],
    # Per client address (racks.throttling.client_address) unless named otherwise.
    "DEFAULT_THROTTLE_RATES": {"ingest": env("INGEST_RATE"), "register": "30/min",
                               "password_reset": "5/hour",
                               "password_reset_address": "30/hour",
                               # "Send a test event", per endpoint and per user: a person
                               # testing a receiver, never a port scan.
                               "webhook_test": "5/min", "webhook_test_user": "30/hour",
                               # Invitations sent, per inviter and per organization.
                               "invite_user": env("INVITE_RATE", default="20/hour"),
                               "invite_organization": env("INVITE_ORGANIZATION_RATE",
                                                          default="100/hour"),
                               # Connecting a rack probes a host: per user, per organization.
                               "rack_connect_user": env("RACK_CONNECT_RATE",
                                                        default="10/hour"),
                               "rack_connect_organization": env(
                                   "RACK_CONNECT_ORGANIZATION_RATE", default="30/hour")},
}

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    # A token made without saying how long it lasts (racks.accounts.issue_token says).
    "TOKEN_TTL": timedelta(days=API_TOKEN_DEFAULT_DAYS),
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rack Console API",
    "DESCRIPTION": "Racks, apps, builds, releases, resources, the notification feed, "
    "preferences and outgoing webhooks.\n\n"
    # The websocket is not an HTTP path, so it has no operation: its messages are here.
    "**Live feed** (websocket `/ws/notifications/`, session cookie or `?ticket=`). "
    "Server to client: `{\"type\": \"notification\", \"notification\": <item>}`, "
    "`{\"type\": \"unread_count\", \"count\": N}`. Client to server: "
    "`{\"type\": \"resume\", \"after\": <id>}` sends what was missed; "
    "`{\"type\": \"watch\", \"build\": \"<build id>\"}` answers "
    "`{\"type\": \"build\", \"build\": {\"id\", \"app\", \"status\", "
    "\"started_at\", \"ended_at\"}, \"logs\": <all so far>, \"snapshot\": true}` and "
    "then the same message with the logs added on each change; "
    "`{\"type\": \"watch\", \"app\": \"<rack id>/<name>\"}` answers "
    "`{\"type\": \"watching\"}`, then the app's `build` messages and "
    "`{\"type\": \"app\", \"notification\": <id>}` on new activity, "
    "`{\"type\": \"app_state\", \"status\": \"<status>\"}` when its status or formation "
    "changes without one; "
    "`{\"type\": \"watch\", \"rack\": <rack id>}` answers "
    "`{\"type\": \"watching\"}`, then `{\"type\": \"rack\", \"notification\": <id>}` "
    "on each new notification of the rack. A watch needs "
    "membership of the rack's organization (else an `error`), and counts in the socket's "
    "limits: one request at a time, one of each kind a second, 10 objects a socket.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ serves Swagger UI from the sidecar package: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Preference rules and webhooks share one list of event types ("*" and the catalogue's).
    "ENUM_NAME_OVERRIDES": {"EventTypeChoice": "notifications.api.serializers.EVENT_CHOICES"},
    # The ingest URL is a plain Django view; this hook writes its operation into the schema.
    # <id:...> (console.converters) is an integer path parameter, as <int:...> was.
    "PATH_CONVERTER_OVERRIDES": {"id": int},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "racks.intake.schema.document_ingest",
                             "console.api_urls.describe_path_parameters"],
}

SESSION_COOKIE_SAMESITE = "Lax"

# Behind HTTPS in production (README: "Running it for real"); off by default so that
# scripts/run and the tests work over plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is hard to undo (browsers ship the list): only when the operator says so.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # The TLS-terminating proxy says which scheme the client used; only set this when the
    # proxy overwrites the header a client might send.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script or style anywhere: page data goes through data attributes and
# json_script. 'self' covers ws:/wss: to the same host (CSP Level 3), for the live feed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# LOG_FORMAT=json writes one JSON object a line. Every line carries the request id, and
# the notification and rack ids where known; secrets are masked (console/tracing.py).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "console.tracing.Context"},
                "redact": {"()": "console.tracing.Redact"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                        "%(notification_id)s %(rack_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level",
                                   "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context", "redact"],
                             "formatter": "json" if LOG_FORMAT == "json" else "text"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own handler prints unfiltered when DEBUG is on: its records go to ours.
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL, "propagate": True}},
}
# Workers log through the same handler (Celery would replace the root logger's).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

