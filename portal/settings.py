"""Paved settings, read from the environment.

Every setting has an embedded default so that `make run` works on a laptop with nothing but Python:
SQLite under `var/` and Celery's filesystem broker under `var/celery/`. Production sets
`DATABASE_URL`, `CELERY_BROKER_URL`, `SECRET_KEY`, `ALLOWED_HOSTS` and `DEBUG=false`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), found {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, found {value!r}") from exc


def env_list(name: str, default: str = "", sep: str = ",") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(sep) if item.strip()]


# --- core -----------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
VAR_DIR = Path(env_str("PAVED_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if not DEBUG and (len(key) < 32 or key.startswith("django-insecure")):
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters and not an insecure default.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (generate one with `openssl rand -hex 32`)."
        )
    # A development key kept under var/ so that sessions survive a restart of `make run`.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PAVED_BASE_URL = env_str("PAVED_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "django_prometheus",
    "template_partials.apps.SimpleAppConfig",
    "csp",
    # Before portal: axes' sign-in receivers must run before portal.signin's, which audit what axes decided.
    "axes",
    "portal",
    "catalog",
    "scaffolder",
    "scorecards",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.ApiNulCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Entity reads by name/uid with a token are answered here, before sessions, CSRF and DRF (catalog.reads).
    "catalog.reads.LeanReadMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.PortalLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.ApplicationErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as axes requires: turns a refused sign-in into the lockout page (portal.signin.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
            # Partials through builtins and an explicit loader, so moving to Django 6's partials is a settings change.
            "builtins": ["template_partials.templatetags.partials"],
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'paved.sqlite3'}")
DATABASES: dict[str, dict[str, Any]] = {"default": dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the embedded mode: WAL and immediate transactions keep
    # concurrent writers from failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # No CONN_HEALTH_CHECKS: it costs a `SELECT 1` round trip on the first query of every request. A persistent
    # connection that the server closed (restart, idle timeout) fails that one request with a 500, and Django
    # drops the broken connection at the end of it (close_if_unusable_or_obsolete), so the next request reconnects.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The catalog's filters and facets are index-only scans over the search table; PostgreSQL's default
        # random_page_cost (4, tuned for spinning disks) makes the planner prefer sequential scans that are 2-3x
        # slower on SSDs. Set per connection; PAVED_PG_OPTIONS="" leaves the server's settings alone.
        _pg_options = env_str("PAVED_PG_OPTIONS", "-c random_page_cost=1.1")
        if _pg_options:
            DATABASES["default"].setdefault("OPTIONS", {})["options"] = _pg_options
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
AUTHENTICATION_BACKENDS = [
    # axes' backend: refuses any sign-in while its account or address is paused, then leaves the checking to the next.
    "portal.signin.SignInBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- sign-in throttling (django-axes; the policy is explained in portal/signin.py) ----------------

PAVED_LOGIN_FAILURE_LIMIT = env_int("PAVED_LOGIN_FAILURE_LIMIT", 5)
PAVED_LOGIN_COOLOFF_MINUTES = env_int("PAVED_LOGIN_COOLOFF_MINUTES", 1)
PAVED_LOGIN_COOLOFF_MAX_MINUTES = env_int("PAVED_LOGIN_COOLOFF_MAX_MINUTES", 60)
if PAVED_LOGIN_FAILURE_LIMIT < 1 or not 1 <= PAVED_LOGIN_COOLOFF_MINUTES <= PAVED_LOGIN_COOLOFF_MAX_MINUTES:
    raise ImproperlyConfigured(
        "PAVED_LOGIN_FAILURE_LIMIT must be at least 1, and PAVED_LOGIN_COOLOFF_MINUTES between 1 and "
        "PAVED_LOGIN_COOLOFF_MAX_MINUTES"
    )
AXES_FAILURE_LIMIT = PAVED_LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account, and per address whatever the account
AXES_COOLOFF_TIME = "portal.signin.cooloff"
# Each failure record expires on its own (not when some other client's shorter pause says so).
AXES_USE_ATTEMPT_EXPIRATION = True
# axes would also forget every failure from the signing-in address, so anybody with an account could clear the
# record of the account they are guessing at from the same address; portal.signin forgets the account's only.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "portal.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.signin.client_address"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept: a table that would only grow
AXES_VERBOSE = False

# --- security (production-safe unless DEBUG) ------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("PAVED_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("PAVED_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("PAVED_HSTS_SECONDS", 0)  # opt-in: HSTS is hard to undo
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PAVED_HSTS_INCLUDE_SUBDOMAINS", False)
PAVED_BEHIND_PROXY = env_bool("PAVED_BEHIND_PROXY", False)
# Reverse proxies in front of Paved that each append the address they were reached from to X-Forwarded-For.
PAVED_PROXY_HOPS = env_int("PAVED_PROXY_HOPS", 1)
if PAVED_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Same-origin everything: no inline script or style, no third-party origin. A script that must be inline carries
# the request's nonce (`<script nonce="{{ request.csp_nonce }}">`); django-csp adds it to the header when used.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # data: for the icons inside Tabler's and Swagger UI's stylesheets
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- i18n / static --------------------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("PAVED_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PAVED_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# portal/static/ (our files and the npm libraries `make assets` copies into vendor/) is collected as the portal
# app's static folder; naming it in STATICFILES_DIRS as well would find every file twice.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API -------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON bodies only, as Backstage's API: one way to send a body, one way to document it.
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.throttling.AnonRateThrottle",
        "portal.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("PAVED_THROTTLE_ANON", "60/min"),
        # Per web process (portal/throttling.py): a guard against a runaway script, above what a catalog
        # client reaches against two processes (~1,000 requests a second each on two cores).
        "user": env_str("PAVED_THROTTLE_USER", "90000/min"),
    },
    "EXCEPTION_HANDLER": "portal.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Paved API",
    "DESCRIPTION": "Catalog (Backstage-compatible), on-call, scaffolder and scorecards.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads Swagger UI from our own static files (installed from npm), never from a CDN. These URLs
    # are not hashed: whitenoise serves the unhashed copy of every collected file too (with a short max-age).
    "SWAGGER_UI_DIST": f"{STATIC_URL}vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": f"{STATIC_URL}portal/favicon.svg",
    # No validator badge: it is an image from a third-party origin, which the Content-Security-Policy refuses.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Cache ----------------------------------------------------------------------------------------

# What Paved caches (catalog/cache.py: totalItems, facets and the catalog page's counts per catalog version; the
# debounce of the statistics refresh after bulk ingests) is correct in each process's memory; PAVED_CACHE_URL
# (redis://host:6379/1) shares it between every web process and worker, so each answer is computed once per catalog
# change instead of once per process. If Redis stops answering, Paved computes the answers itself (1 s timeouts).
PAVED_CACHE_URL = env_str("PAVED_CACHE_URL", "")
if PAVED_CACHE_URL and not PAVED_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"PAVED_CACHE_URL must be a redis://, rediss:// or unix:// URL, found {PAVED_CACHE_URL!r}"
    )
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": PAVED_CACHE_URL,
            "KEY_PREFIX": "paved",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if PAVED_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 1000}}
    )
}

# --- Celery ---------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Must exceed the longest task's run time, or Redis redelivers a task that is still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env_str("PAVED_CELERY_QUEUE", "paved")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # long jobs keep their state on their own row, never in a result store
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("PAVED_TASK_TIME_LIMIT", 900)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("PAVED_TASK_SOFT_TIME_LIMIT", 840)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 4
CELERY_TASK_ALWAYS_EAGER = env_bool("PAVED_TASKS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic job is declared here, and nowhere else.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "portal-heartbeat": {"task": "portal.heartbeat", "schedule": 60.0},
    # Enqueues a refresh of every file location whose files changed (stat only: an edit is in the catalog within
    # ~30 s) and of every location whose full re-read is due (next_refresh_at, PAVED_CATALOG_REFRESH_MINUTES).
    "catalog-refresh-due": {"task": "catalog.refresh_due", "schedule": 30.0},
    # Scaffolder runs whose worker was lost (killed mid-step, no heartbeat for 30 minutes) are reopened and resumed.
    "scaffolder-runs-resume-abandoned": {"task": "scaffolder.runs_resume_abandoned", "schedule": 300.0},
    # Files of finished runs left behind for more than a day (failed runs past their retry window, dry runs).
    "scaffolder-run-files-sweep": {"task": "scaffolder.run_files_sweep", "schedule": 3600.0},
    # Approved scorecard exemptions past their expiry end, and their services are evaluated again.
    "scorecards-exemptions-expire": {"task": "scorecards.exemptions_expire", "schedule": 300.0},
    # Services whose repository's head moved are evaluated again (a pushed README shows within a minute).
    "scorecards-repositories-poll": {"task": "scorecards.repositories_poll", "schedule": 30.0},
    # The nightly sweep: every entity on every scorecard (on-call coverage looks ahead from today, so it moves daily).
    "scorecards-evaluate-all": {"task": "scorecards.evaluate_all", "schedule": crontab(hour=2, minute=30)},
}

# --- logging --------------------------------------------------------------------------------------

LOG_LEVEL = env_str("PAVED_LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("PAVED_LOG_FORMAT", "console" if DEBUG else "json")
LOGGING_CONFIG = None  # portal.logging configures stdlib logging and structlog together

from portal.logging import configure_logging  # noqa: E402

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- catalog --------------------------------------------------------------------------------------

# Directories under which `file` locations may point (colon-separated); the demo organisation is always allowed.
PAVED_CATALOG_FILE_ROOTS = [str(Path(p).resolve()) for p in env_list("PAVED_CATALOG_FILE_ROOTS", "", sep=":")]
# Hosts `url` and git locations may fetch from (comma-separated, `*.example.com` allowed).
PAVED_CATALOG_ALLOWED_HOSTS = env_list("PAVED_CATALOG_ALLOWED_HOSTS")
# Glob patterns of location targets that may declare Groups, Users, Templates and Paved's kinds.
PAVED_CATALOG_TRUSTED_LOCATIONS = env_list("PAVED_CATALOG_TRUSTED_LOCATIONS")
# What happens to an entity that disappears from a source that read cleanly: keep (flag as orphan) or delete.
PAVED_CATALOG_ORPHAN_POLICY = env_str("PAVED_CATALOG_ORPHAN_POLICY", "keep")
if PAVED_CATALOG_ORPHAN_POLICY not in {"keep", "delete"}:
    raise ImproperlyConfigured("PAVED_CATALOG_ORPHAN_POLICY must be 'keep' or 'delete'")
# Minutes between scheduled refreshes of each location.
PAVED_CATALOG_REFRESH_MINUTES = env_int("PAVED_CATALOG_REFRESH_MINUTES", 30)
# Only for tests and closed networks: let `url` locations reach loopback/private addresses.
PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = env_bool("PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES", False)
# Seconds a `url` fetch (connect, then the whole body) and a git command may take.
PAVED_CATALOG_FETCH_TIMEOUT_SECONDS = env_int("PAVED_CATALOG_FETCH_TIMEOUT_SECONDS", 10)
PAVED_CATALOG_GIT_TIMEOUT_SECONDS = env_int("PAVED_CATALOG_GIT_TIMEOUT_SECONDS", 60)
# Bounds on one refresh: files read (across nested Locations) and how deep Locations may nest.
PAVED_CATALOG_MAX_FILES = env_int("PAVED_CATALOG_MAX_FILES", 5000)
PAVED_CATALOG_MAX_NESTING = env_int("PAVED_CATALOG_MAX_NESTING", 10)
# Processes that parse a large file location's YAML side by side (forked by the worker running the refresh, only when
# it has no other threads; 1 parses in that process). One per core, at most 4: the database needs its share of them.
PAVED_CATALOG_PARSE_PROCESSES = env_int("PAVED_CATALOG_PARSE_PROCESSES", min(4, os.cpu_count() or 1))

# --- scaffolder: GitHub and GitLab ----------------------------------------------------------------

# Hosts `publish:github` and `publish:gitlab` may create repositories on. A host without a token is not offered by
# RepoUrlPicker and a step naming it fails. Tokens live only here and in the worker's memory: never in task input,
# events, logs or outputs. GitHub Enterprise: PAVED_GITHUB_API_URL=https://ghe.example.com/api/v3.
_github_api_url = env_str("PAVED_GITHUB_API_URL", "https://api.github.com").rstrip("/")
_gitlab_url = env_str("PAVED_GITLAB_URL", "https://gitlab.com").rstrip("/")
for _name, _url in (("PAVED_GITHUB_API_URL", _github_api_url), ("PAVED_GITLAB_URL", _gitlab_url)):
    if not _url.startswith("https://") or not urlsplit(_url).hostname:
        raise ImproperlyConfigured(f"{_name} must be an https:// URL, found {os.environ.get(_name, _url)!r}")
PAVED_SCM_INTEGRATIONS: list[dict[str, str]] = [
    {
        "kind": "github",
        # api.github.com serves github.com; an Enterprise server serves its own host under /api/v3.
        "host": env_str(
            "PAVED_GITHUB_HOST",
            "github.com" if _github_api_url == "https://api.github.com" else urlsplit(_github_api_url).netloc,
        ).lower(),
        "api_url": _github_api_url,
        "token": env_str("PAVED_GITHUB_TOKEN"),
        "token_setting": "PAVED_GITHUB_TOKEN",
    },
    {
        "kind": "gitlab",
        "host": urlsplit(_gitlab_url).netloc.lower(),
        "api_url": f"{_gitlab_url}/api/v4",
        "token": env_str("PAVED_GITLAB_TOKEN"),
        "token_setting": "PAVED_GITLAB_TOKEN",
    },
]
# Seconds each request to those APIs may take (connecting takes at most 10 of them).
PAVED_SCM_TIMEOUT_SECONDS = env_int("PAVED_SCM_TIMEOUT_SECONDS", 30)

# --- scorecards -----------------------------------------------------------------------------------

# The longest an exemption from a scorecard check may last, in days; every exemption must expire within it.
PAVED_SCORECARDS_MAX_EXEMPTION_DAYS = env_int("PAVED_SCORECARDS_MAX_EXEMPTION_DAYS", 90)
if not 1 <= PAVED_SCORECARDS_MAX_EXEMPTION_DAYS <= 3660:
    raise ImproperlyConfigured("PAVED_SCORECARDS_MAX_EXEMPTION_DAYS must be a whole number of days from 1 to 3660")
# README badges (/badge/<ref>/<scorecard>.svg) without signing in: off by default, as a level tells anyone who knows a
# service's ref how it is doing; turn it on where README viewers (GitHub, GitLab) fetch the badges without a session.
PAVED_SCORECARDS_PUBLIC_BADGES = env_bool("PAVED_SCORECARDS_PUBLIC_BADGES", False)
