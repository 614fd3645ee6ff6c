from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','portal.settings'); django.setup(); "
    "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, "
    "s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
)

OVERRIDDEN = {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}


def _settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=False
    )


def test_embedded_defaults_are_sqlite_and_filesystem_broker(tmp_path):
    result = _settings({"DEBUG": "true", "PAVED_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "False", "0"]


def test_production_urls_select_postgresql_and_redis(tmp_path):
    result = _settings(
        {
            "SECRET_KEY": "s" * 40,
            "PAVED_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://paved@db.internal:5432/paved",
            "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://cache.internal:6379/0", "True", "0"]


@pytest.mark.parametrize("key", ["", "short", "django-insecure-" + "x" * 40])
def test_production_refuses_missing_or_weak_secret_key(tmp_path, key):
    result = _settings({"SECRET_KEY": key, "PAVED_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_malformed_boolean_setting_is_reported_by_name(tmp_path):
    result = _settings({"DEBUG": "maybe", "PAVED_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


CACHE_PROBE = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','portal.settings'); django.setup(); "
    "from django.conf import settings as s; c = s.CACHES['default']; print(c['BACKEND'], c.get('LOCATION', '-'))"
)


def _cache_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN | {"PAVED_CACHE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", CACHE_PROBE], env={**clean, **env}, capture_output=True, text=True, check=False
    )


def test_the_cache_is_each_process_memory_unless_a_redis_url_is_given(tmp_path):
    embedded = _cache_settings({"DEBUG": "true", "PAVED_VAR_DIR": str(tmp_path)})
    assert embedded.returncode == 0, embedded.stderr
    assert embedded.stdout.split()[0] == "django.core.cache.backends.locmem.LocMemCache"
    shared = _cache_settings(
        {"DEBUG": "true", "PAVED_VAR_DIR": str(tmp_path), "PAVED_CACHE_URL": "redis://cache.internal:6379/1"}
    )
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://cache.internal:6379/1"]


@pytest.mark.parametrize("url", ["memcached://cache:11211", "file:///tmp/cache", "cache.internal:6379"])
def test_a_cache_url_that_is_not_redis_is_refused_by_name(tmp_path, url):
    result = _cache_settings({"DEBUG": "true", "PAVED_VAR_DIR": str(tmp_path), "PAVED_CACHE_URL": url})
    assert result.returncode != 0
    assert "PAVED_CACHE_URL must be a redis://" in result.stderr
