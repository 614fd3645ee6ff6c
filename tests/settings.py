"""Test settings: the production settings with fast hashing, eager tasks and a file-backed SQLite test database.

`DATABASE_URL` and `CELERY_BROKER_URL` are honoured exactly as in production, so the same suite runs on the
embedded defaults and on PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import re
import tempfile

os.environ.setdefault("SECRET_KEY", "paved-test-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("PAVED_LOG_LEVEL", "WARNING")
os.environ.setdefault("PAVED_VAR_DIR", tempfile.mkdtemp(prefix="paved-test-var-"))

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES, REST_FRAMEWORK, VAR_DIR

STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "100000/min"}}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that a real Celery worker in the integration tests sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    # One test database per run, named after the run's own var directory, so that runs side by side against one
    # server (two checkouts, a developer and CI) never create or drop each other's database.
    _run = re.sub(r"\W", "_", VAR_DIR.name.lower())[-24:]
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run}"[:63]}
