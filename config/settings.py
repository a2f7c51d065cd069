"""Muster settings: one module, driven by environment variables (see docs/configuration.md)."""

import base64
import datetime
import ssl
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# development | test | production. Production refuses to start without its secrets. There is no
# default: a server started without it would run with the development keys below, so it must be said
# (`./dev`, the test suite, the benchmarks, the Dockerfile and docker-compose.yml all set it).
MUSTER_ENV = env_str("MUSTER_ENV")
if not MUSTER_ENV:
    raise ImproperlyConfigured("MUSTER_ENV is not set: use production (or development / test; ./dev sets it for you).")
if MUSTER_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"MUSTER_ENV={MUSTER_ENV!r}: use development, test or production.")
PRODUCTION = MUSTER_ENV == "production"

# Demo mode marks every page and allows `seed_demo`; never on in production.
MUSTER_DEMO = env_bool("MUSTER_DEMO", False)
if PRODUCTION and MUSTER_DEMO:
    raise ImproperlyConfigured("MUSTER_DEMO cannot be enabled in production.")

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")

# Development only: production refuses to start without DJANGO_SECRET_KEY (below).
_DEV_SECRET = "muster-development-only-secret-key-not-for-production-use-0123456789"  # nosec B105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=PRODUCTION) or _DEV_SECRET
if PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names Muster is served on.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Public origin used in e-mailed links (invitations, password resets sent by background jobs). Outside
# production it defaults to the local server on MUSTER_PORT (what `./dev up` serves on), so a worker
# started beside a server on another port still links to that server (devtools.__main__.web_address).
MUSTER_BASE_URL = env_str(
    "MUSTER_BASE_URL", "" if PRODUCTION else f"http://127.0.0.1:{env_int('MUSTER_PORT', 8000)}"
).rstrip("/")
if PRODUCTION and not MUSTER_BASE_URL:
    raise ImproperlyConfigured("MUSTER_BASE_URL must be set, e.g. https://muster.example.gov")
# Offboarding exports (decrypted agency data) wait here until downloaded; keep it on encrypted storage.
MUSTER_EXPORT_DIR = env_str("MUSTER_EXPORT_DIR", str(BASE_DIR / ".data" / "exports"))

# --- Applications: public schema (shared) and per-agency schema (tenant) -------------------
SHARED_APPS = [
    "django_tenants",
    "network",
    "agencies",
    "activations",
    "governance",
    "members",
    "reporting",
    "portal",
    "demo",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "guardian",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
# contenttypes deliberately lives in public only: auth and guardian permissions point at
# public content type ids, and a per-schema copy would resolve to different ids.
TENANT_APPS = [
    "encounters",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "agencies.Agency"
# Set the schema search path once per request (and again only when the tenant changes), not before
# every query: half of a page's statements were `SET search_path` (docs/performance.md). django-tenants
# 4 forgets the cached path on rollback and savepoint rollback (its issue #1262);
# tests/test_schema_isolation.py guards both.
TENANT_LIMIT_SET_CALLS = True
# New agency schemas are cloned from this template instead of replaying every migration.
MUSTER_TEMPLATE_SCHEMA = "agency_template"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Outside everything that can touch the database: an outage anywhere below answers the plain 503
    # page (config/outage.py), which still gets the security headers from the two above.
    "config.outage.DatabaseUnavailableMiddleware",
    # Memberships and roles are read once per request, whoever asks (network/request_cache.py).
    "network.request_cache.RequestCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "agencies.middleware.AgencyRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "network.sessions.SessionLimitsMiddleware",
    "network.mfa.MfaRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "agencies.context_processors.navigation",
                "network.mfa.mfa_context",
            ],
        },
    },
]

# --- Data stores ---------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", required=PRODUCTION) or "postgres://postgres@127.0.0.1:5432/muster"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env_str("MUSTER_TEST_DB_NAME", "test_muster")}
# The test suite's own web server and Celery worker processes point at the test database by name.
if env_str("MUSTER_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = env_str("MUSTER_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Optional: a PostgreSQL streaming replica (hot standby) of the primary. Only the leadership dashboards'
# reads of published figures go there, explicitly (network/replica.py, docs/reporting.md "Reads off the
# primary"); writes and every read of an agency's schema stay on the primary. A replica that fails or stops
# answering costs a page at most MUSTER_REPLICA_TIMEOUT_SECONDS, then the process reads from the primary for
# MUSTER_REPLICA_RETRY_SECONDS before trying the replica again.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
MUSTER_REPLICA_TIMEOUT_SECONDS = env_float("MUSTER_REPLICA_TIMEOUT_SECONDS", 2.0)
if not 0 < MUSTER_REPLICA_TIMEOUT_SECONDS <= 30:
    raise ImproperlyConfigured("MUSTER_REPLICA_TIMEOUT_SECONDS must be more than 0 and at most 30 seconds.")
MUSTER_REPLICA_RETRY_SECONDS = env_int("MUSTER_REPLICA_RETRY_SECONDS", 30)
if not 1 <= MUSTER_REPLICA_RETRY_SECONDS <= 3600:
    raise ImproperlyConfigured("MUSTER_REPLICA_RETRY_SECONDS must be from 1 to 3600 seconds.")
if DATABASE_REPLICA_URL:
    _replica = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a postgres:// URL.")
    _primary = DATABASES["default"]
    if (_replica["HOST"], str(_replica["PORT"]), _replica["NAME"]) == (
        _primary["HOST"],
        str(_primary["PORT"]),
        _primary["NAME"],
    ):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL names the primary's own database: leave it unset to read from the primary."
        )
    # A plain PostgreSQL connection (no django-tenants schema switching): it reads public tables only.
    # Read-only even if the URL points at a writable server by mistake. libpq's connect_timeout is whole
    # seconds, at least 2; statement_timeout ends a slow query on the server; a paused server is the
    # watchdog's (network/replica.py). No health check: a failed read falls back and closes the connection.
    _replica["OPTIONS"] = {
        "connect_timeout": max(2, round(MUSTER_REPLICA_TIMEOUT_SECONDS)),
        "options": (
            f"-c statement_timeout={int(MUSTER_REPLICA_TIMEOUT_SECONDS * 1000)} "
            "-c default_transaction_read_only=on -c search_path=public"
        ),
    }
    _replica["CONN_HEALTH_CHECKS"] = False
    _replica["TEST"] = {"MIRROR": "default"}  # the suite never builds a second test database
    DATABASES["replica"] = _replica

REDIS_URL = env_str("REDIS_URL", required=PRODUCTION) or "redis://127.0.0.1:6379/0"
# The one bound on waiting for Redis, in seconds: connecting *and* every reply. A Redis that refuses
# fails at once; one that stops answering (paused, partitioned, failing over: the TCP connection stays
# open and nothing comes back) costs a request at most this long, never a hang. It applies to every
# Redis connection Muster makes: Django's cache (so the rate limits, the worker heartbeats and
# /healthz, which use the cache's client) and Celery's broker (publishing from web, worker and beat).
# There is no result backend. docs/reliability.md, "Hangs, not only refusals".
MUSTER_REDIS_TIMEOUT_SECONDS = env_float("MUSTER_REDIS_TIMEOUT_SECONDS", 2.0)
if not 0 < MUSTER_REDIS_TIMEOUT_SECONDS <= 30:
    raise ImproperlyConfigured("MUSTER_REDIS_TIMEOUT_SECONDS must be more than 0 and at most 30 seconds.")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("MUSTER_CACHE_PREFIX", "muster"),
        "OPTIONS": {
            "socket_connect_timeout": MUSTER_REDIS_TIMEOUT_SECONDS,
            "socket_timeout": MUSTER_REDIS_TIMEOUT_SECONDS,
        },
    }
}

# --- Encryption (docs/encryption.md) ---------------------------------------------------------
# Master keys wrap every data key: "id:base64(32 bytes)", comma-separated, newest first.
# Outside production a fixed development key applies; it protects nothing.
_DEV_MASTER_KEY = "dev1:bXVzdGVyLWRldmVsb3BtZW50LW1hc3Rlci1rZXktMDE="
MUSTER_MASTER_KEYS = env_list("MUSTER_MASTER_KEYS", [] if PRODUCTION else [_DEV_MASTER_KEY])
# Each process caches unwrapped data keys and each owner's current key id this long (seconds).
MUSTER_KEY_CACHE_SECONDS = env_int("MUSTER_KEY_CACHE_SECONDS", 60)
if PRODUCTION and not MUSTER_MASTER_KEYS:
    raise ImproperlyConfigured("MUSTER_MASTER_KEYS must be set (generate one with `manage.py generate_master_key`).")
for _entry in MUSTER_MASTER_KEYS:
    _key_id, _, _encoded = _entry.partition(":")
    try:
        _ok = bool(_key_id) and len(base64.b64decode(_encoded, validate=True)) == 32
    except ValueError:
        _ok = False
    if not _ok:
        raise ImproperlyConfigured(f"MUSTER_MASTER_KEYS: entry {_key_id!r} must be 32 bytes of base64 as id:base64.")
# Blind indexes (duplicate detection in activations) use each activation's own key, wrapped by the
# master keys and shredded with its names (agencies/crypto.py); there is no global index key any more.
# Audit chain key (HMAC-SHA256 over every audit event, docs/security.md#tamper-evidence): base64 of 32
# bytes. Whoever can write audit rows without it cannot make them verify.
_DEV_AUDIT_KEY = "ZGV2LW9ubHktYXVkaXQtY2hhaW4ta2V5LTAxMjM0NTY="
MUSTER_AUDIT_KEY = env_str("MUSTER_AUDIT_KEY", required=PRODUCTION) or _DEV_AUDIT_KEY
try:
    _audit_ok = len(base64.b64decode(MUSTER_AUDIT_KEY, validate=True)) == 32
except ValueError:
    _audit_ok = False
if not _audit_ok or (PRODUCTION and MUSTER_AUDIT_KEY == _DEV_AUDIT_KEY):
    raise ImproperlyConfigured("MUSTER_AUDIT_KEY must be base64 of 32 random bytes (not the development key).")
# The login role that web, worker and beat connect as (DATABASE_URL there). `migrate_network`, run as
# the owner role, grants it what it needs and no more (agencies/db_roles.py, docs/operations.md).
MUSTER_DB_RUNTIME_ROLE = env_str("MUSTER_DB_RUNTIME_ROLE", "")
if PRODUCTION and _DEV_MASTER_KEY in MUSTER_MASTER_KEYS:
    raise ImproperlyConfigured("MUSTER_MASTER_KEYS holds the development key; generate a real one.")

# --- Background work -----------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport, except that an acknowledgement Redis did not answer (paused, partitioned) cannot
# leave the worker idle for good (network/broker.py, docs/reliability.md "Hangs").
CELERY_BROKER_TRANSPORT = "network.broker:Transport"
if REDIS_URL.startswith("rediss://"):
    # Redis over TLS: the broker checks the server's certificate, as the cache's client (redis-py) does. Naming
    # the transport above hides the URL's scheme from kombu, which would otherwise connect without TLS.
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
CELERY_RESULT_BACKEND = None  # progress lives in the database, where it survives restarts
CELERY_TASK_DEFAULT_QUEUE = env_str("MUSTER_CELERY_QUEUE", "muster")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits out a Redis outage of any length, then resumes
# A publish with Redis down fails within about two seconds instead of hanging the request; work queued
# through the outbox (network/outbox.py) is sent later by the relay (docs/reliability.md).
CELERY_BROKER_CONNECTION_TIMEOUT = MUSTER_REDIS_TIMEOUT_SECONDS
# A message a worker took but never acknowledged (the whole worker died) goes back to the queue once it
# is this old. It must exceed the longest task, or a running task is handed to a second worker.
MUSTER_VISIBILITY_TIMEOUT = env_int("MUSTER_CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": MUSTER_VISIBILITY_TIMEOUT,
    # Look for such messages every 10 s (sooner with a short timeout), not every 100 s (kombu's default).
    "unacked_restore_interval": max(1, min(10, MUSTER_VISIBILITY_TIMEOUT // 5)),
    "unacked_restore_throttle": 1,
    # Connect and read timeouts: without socket_timeout a publish to a Redis that stopped answering
    # waits forever on the open connection (kombu's default), holding the request that saved the change.
    "socket_connect_timeout": MUSTER_REDIS_TIMEOUT_SECONDS,
    "socket_timeout": MUSTER_REDIS_TIMEOUT_SECONDS,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
MUSTER_OUTBOX_RELAY_SECONDS = env_int("MUSTER_OUTBOX_RELAY_SECONDS", 30)
# Texts and calls, out and in (their encrypted bodies, who, when, what for), are kept this long, then purged
# (network.phone.phone_messages_purge): long past any provider's retries and status callbacks.
MUSTER_PHONE_MESSAGES_KEEP_DAYS = env_int("MUSTER_PHONE_MESSAGES_KEEP_DAYS", 30)
# Loops over the agencies (for_each_active_agency) close the database connection every this many agencies:
# a backend caches the catalog entries of every schema it touches and never gives that memory back (about
# 0.2 MiB per agency schema; docs/scaling.md). 0: never.
MUSTER_AGENCY_CONNECTION_RECYCLE = env_int("MUSTER_AGENCY_CONNECTION_RECYCLE", 200)
# Test-only: pause after each agency of a snapshot run, so a test can kill a worker in the middle of one.
MUSTER_SNAPSHOT_AGENCY_PAUSE_MS = env_int("MUSTER_SNAPSHOT_AGENCY_PAUSE_MS", 0)
if PRODUCTION and MUSTER_SNAPSHOT_AGENCY_PAUSE_MS:
    raise ImproperlyConfigured("MUSTER_SNAPSHOT_AGENCY_PAUSE_MS is for tests only.")
CELERY_BEAT_SCHEDULE = {
    "beat-heartbeat": {"task": "network.tasks.beat_heartbeat", "schedule": 30.0},
    "outbox-relay": {"task": "network.tasks.outbox_relay_task", "schedule": float(MUSTER_OUTBOX_RELAY_SECONDS)},
    "follow-up-reminders": {
        "task": "encounters.tasks.follow_up_reminders_task",
        "schedule": crontab(hour=env_int("MUSTER_REMINDER_HOUR", 7), minute=0),
    },
    "notes-purge": {"task": "encounters.tasks.notes_purge_task", "schedule": crontab(hour=3, minute=15)},
    "phone-messages-purge": {"task": "network.tasks.phone_messages_purge_task", "schedule": crontab(hour=3, minute=20)},
    "inactive-accounts": {
        "task": "network.tasks.inactive_accounts_disable_task",
        "schedule": crontab(hour=4, minute=0),
    },
    "expired-sessions-clear": {"task": "network.tasks.sessions_clear_task", "schedule": crontab(hour=4, minute=5)},
    "reporting-snapshots": {"task": "reporting.tasks.snapshots_nightly_task", "schedule": crontab(hour=2, minute=30)},
    # Daily: publishes each period once its day has come (docs/reporting.md, "Publication"). Idempotent.
    "reporting-publish": {"task": "reporting.tasks.publish_due_task", "schedule": crontab(hour=2, minute=45)},
    "roster-confirmation-reminders": {
        "task": "agencies.tasks.roster_reminders_task",
        "schedule": crontab(hour=env_int("MUSTER_REMINDER_HOUR", 7), minute=10),
    },
    "agreement-expiry-notices": {
        "task": "governance.tasks.agreements_expiry_task",
        "schedule": crontab(hour=env_int("MUSTER_REMINDER_HOUR", 7), minute=20),
    },
    # Members' requests (docs/members.md): a missed first-contact target is noticed within five minutes.
    "member-requests-escalate": {"task": "members.tasks.member_requests_escalate_task", "schedule": 300.0},
    "member-request-contacts-destroy": {
        "task": "members.tasks.member_request_contacts_destroy_task",
        "schedule": crontab(hour=3, minute=50),
    },
    "checkins-send": {
        "task": "encounters.tasks.checkins_send_task",
        "schedule": crontab(hour=env_int("MUSTER_REMINDER_HOUR", 7), minute=30),
    },
    # Regional deployment (issue 19): a check-in overdue by 30 minutes is noticed within five minutes.
    "deployment-check-ins-overdue": {"task": "activations.tasks.deployment_check_ins_overdue_task", "schedule": 300.0},
    "activation-names-retention": {
        "task": "activations.tasks.activation_names_retention_task",
        "schedule": crontab(hour=3, minute=45),
    },
}
CELERY_TIMEZONE = env_str("MUSTER_TIME_ZONE", "America/Chicago")  # schedules run in local time

# --- Identity and access -------------------------------------------------------------------
AUTH_USER_MODEL = "network.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-in to a locked account before checking it
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous users hold no grants
GUARDIAN_RAISE_403 = False
# Lockout: 5 failed sign-ins within 15 minutes lock for 15 minutes, counted per account *and* source
# address together: a script that knows a coordinator's e-mail locks only itself out, never the
# coordinator's own browser during an incident. Guesses spread over many addresses still meet the
# authenticator code (MFA). The response is the same whether or not the account exists. A retry while
# locked does not restart the 15 minutes; a completed password reset or an MFA-verified sign-in lifts
# every lock on the account (network.services.user_lockout_lift).
AXES_FAILURE_LIMIT = env_int("MUSTER_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("MUSTER_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "network.sessions.lockout_username"  # case and spaces do not make a new account
AXES_CLIENT_IP_CALLABLE = "network.audit.client_ip"  # the one definition of the caller's address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Proxies in front of Muster that append the caller to X-Forwarded-For (0: REMOTE_ADDR is the caller).
# Lockout, reset limits and audit events all read the caller's address through network.audit.client_ip.
MUSTER_PROXY_COUNT = env_int("MUSTER_PROXY_COUNT", 0)
# Password-reset e-mails: at most this many per address and per client in each window; further
# requests get the same page and send nothing.
MUSTER_PASSWORD_RESET_PER_ADDRESS = env_int("MUSTER_PASSWORD_RESET_PER_ADDRESS", 3)
MUSTER_PASSWORD_RESET_PER_CLIENT = env_int("MUSTER_PASSWORD_RESET_PER_CLIENT", 10)
MUSTER_PASSWORD_RESET_WINDOW_SECONDS = env_int("MUSTER_PASSWORD_RESET_WINDOW_SECONDS", 15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day for reset links
# MFA (network/mfa.py): an authenticator app code after the password, on every account. Relaxed by
# default only for the demo and the test suite (every page then says so); production refuses it off.
MUSTER_MFA_REQUIRED = env_bool("MUSTER_MFA_REQUIRED", not (MUSTER_DEMO or MUSTER_ENV == "test"))
if PRODUCTION and not MUSTER_MFA_REQUIRED:
    raise ImproperlyConfigured("MUSTER_MFA_REQUIRED cannot be turned off in production: every account needs MFA.")
OTP_TOTP_ISSUER = env_str("MUSTER_MFA_ISSUER", "Muster")  # the name authenticator apps show
MUSTER_INVITATION_DAYS = env_int("MUSTER_INVITATION_DAYS", 7)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

if MUSTER_ENV == "test":
    # Fast hashing for the suite (and for the suite's own server processes, which read its rows).
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 60 * 60 * 12  # re-authenticate at least every 12 hours
MUSTER_INACTIVE_DAYS = env_int("MUSTER_INACTIVE_DAYS", 90)
MUSTER_SESSION_IDLE_SECONDS = env_int("MUSTER_SESSION_IDLE_SECONDS", 30 * 60)
MUSTER_SESSION_ABSOLUTE_SECONDS = env_int("MUSTER_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Security headers (production turns on everything `check --deploy` asks for) -----------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: every script and stylesheet is a file from our own origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-muster-session"
    CSRF_COOKIE_NAME = "__Host-muster-csrf"

# --- E-mail -------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("MUSTER_FROM_EMAIL", "Muster <no-reply@muster.invalid>")
if PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", required=True)
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))

# --- Text and voice (docs/callout.md) ------------------------------------------------------------
# Twilio, through its official SDK. All three set: texts and calls go to the provider. None set: outside
# production they print in the terminal (like e-mails) and are listed at /dev/phone/ under `./dev up`; in
# production callouts then go by e-mail and in the app only. Half set: refused everywhere.
MUSTER_SMS_ACCOUNT_SID = env_str("MUSTER_SMS_ACCOUNT_SID", "")
MUSTER_SMS_AUTH_TOKEN = env_str("MUSTER_SMS_AUTH_TOKEN", "")  # also checks the signature of every webhook
MUSTER_SMS_FROM = env_str("MUSTER_SMS_FROM", "")  # the sending number, E.164
# The provider's REST origin (Twilio's regional edges; tests point it at a local stand-in).
MUSTER_SMS_API_URL = env_str("MUSTER_SMS_API_URL", "https://api.twilio.com").rstrip("/")
MUSTER_SMS_TIMEOUT_SECONDS = env_float("MUSTER_SMS_TIMEOUT_SECONDS", 10.0)
_sms_set = [bool(MUSTER_SMS_ACCOUNT_SID), bool(MUSTER_SMS_AUTH_TOKEN), bool(MUSTER_SMS_FROM)]
if any(_sms_set) and not all(_sms_set):
    raise ImproperlyConfigured(
        "MUSTER_SMS_ACCOUNT_SID, MUSTER_SMS_AUTH_TOKEN and MUSTER_SMS_FROM go together: set all three or none."
    )
if PRODUCTION and not MUSTER_SMS_API_URL.startswith("https://"):
    raise ImproperlyConfigured("MUSTER_SMS_API_URL must be an https:// origin in production.")
if not (0 < MUSTER_SMS_TIMEOUT_SECONDS <= 30):
    raise ImproperlyConfigured("MUSTER_SMS_TIMEOUT_SECONDS must be more than 0 and at most 30 seconds.")
# Test-only: the length of one "minute" of the callout ladder, so a test runs it on the worker in seconds.
MUSTER_CALLOUT_MINUTE_SECONDS = env_float("MUSTER_CALLOUT_MINUTE_SECONDS", 60.0)
if PRODUCTION and MUSTER_CALLOUT_MINUTE_SECONDS != 60.0:
    raise ImproperlyConfigured("MUSTER_CALLOUT_MINUTE_SECONDS is for tests only.")

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production whitenoise serves straight from the source folders (no collectstatic).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("MUSTER_TIME_ZONE", "America/Chicago")
# Muster is written in English and translates nothing; with translation on, every number and date a page
# shows asked for the active language first (a fifth of the chief dashboard's time: docs/performance.md).
# Dates and numbers keep Django's defaults, which are the en-us ones.
USE_I18N = False
USE_TZ = True

# Logs carry codes and ids only: never names, notes or secrets.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MUSTER_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
