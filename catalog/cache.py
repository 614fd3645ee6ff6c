"""Answers about the whole catalog (counts behind `totalItems`, facets, the catalog page's facet counts) cached per
catalog version.

The version is a number the database moves forward on every write to the catalog's tables, by trigger (migration
0008), in the same transaction as the write: on PostgreSQL as the writing transaction commits, on SQLite as it
writes. A cached answer is stored under the version read *before* it was computed, so it can only be as old as that
version or newer, and the next write after it changes the version every process reads. Correct by construction,
with no TTL and no invalidation call to forget in a write path: two web processes and two workers never serve an
answer older than the last committed catalog write.

The cache is Django's default cache. Per-process memory is correct (the version is read from the database on every
lookup); a shared cache (Redis, `PAVED_CACHE_URL`) only raises the hit rate across processes. Keys name the database
as well as the version, so Paved installations (or test stacks) sharing one Redis never read each other's answers,
and a cache that fails is logged and bypassed: the answer is computed as if nothing were cached.

A transaction that has written to the catalog and not yet committed (PostgreSQL) bypasses the cache: its own writes
are not in any version yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, TypeVar, cast

import structlog
from django.core.cache import cache
from django.db import connection

log = structlog.get_logger(__name__)

T = TypeVar("T")

_PREFIX: Final = "paved:catalog:v"
# Cached answers live at most this long even if the catalog never changes, so the cache does not keep dead entries
# of old versions around in memory-bounded caches longer than needed (a newer version never reads them).
_TIMEOUT_SECONDS: Final = 3600
_MISSING: Final = object()

_VERSION_SQL: Final = {
    # One round trip: the version, and whether this very transaction has uncommitted catalog writes.
    "postgresql": (
        "SELECT version, EXISTS (SELECT 1 FROM catalog_version_pending WHERE txid = txid_current_if_assigned())"
        " FROM catalog_version WHERE id = 1"
    ),
    "sqlite": "SELECT version, 0 FROM catalog_version WHERE id = 1",
}


def catalog_version() -> int | None:
    """The catalog's current version, or None when it cannot be trusted for caching (uncommitted catalog writes in
    this transaction, or a database without the version triggers)."""
    sql = _VERSION_SQL.get(connection.vendor)
    if sql is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    if row is None or row[1]:
        return None
    return int(row[0])


def database_key() -> str:
    """A short name of the database the answers come from (host, port and name), part of every key."""
    settings = connection.settings_dict
    where = f"{settings.get('HOST') or ''}:{settings.get('PORT') or ''}/{settings.get('NAME') or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def _key(version: int, namespace: str, question: str) -> str:
    digest = hashlib.sha256(question.encode()).hexdigest()
    return f"{_PREFIX}{version}:{database_key()}:{namespace}:{digest}"


def cached(namespace: str, question: str, compute: Callable[[], T]) -> T:
    """`compute()`'s answer to `question` for the current catalog version, computed at most once per version.

    `question` must describe everything the answer depends on besides the catalog's content (the parsed filter, the
    facet keys…): use a canonical repr of parsed input, never raw request text.
    """
    version = catalog_version()
    if version is None:
        return compute()
    key = _key(version, namespace, question)
    try:
        hit = cache.get(key, _MISSING)
    except Exception as error:  # a shared cache that is down must not take the catalog with it
        log.warning("catalog_cache_unavailable", operation="get", error=type(error).__name__)
        return compute()
    if hit is not _MISSING:
        return cast(T, hit)
    answer = compute()
    try:
        cache.set(key, answer, _TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("catalog_cache_unavailable", operation="set", error=type(error).__name__)
    return answer
