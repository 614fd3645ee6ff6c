"""The catalog's background jobs as its services ask for them: by Celery task name, once the transaction commits.

Services enqueue through here and `catalog.tasks` imports the services it calls, so neither imports the other's
module in a circle. The task names are the ones `catalog.tasks` registers and `CELERY_BEAT_SCHEDULE` uses.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from django.core.cache import cache
from django.db import transaction

from catalog.cache import database_key
from portal.celery import app

LOCATION_REFRESH: Final = "catalog.location_refresh"
REFRESH_DUE: Final = "catalog.refresh_due"
TABLES_ANALYZE: Final = "catalog.tables_analyze"

# While this key is in the cache an analysis is already queued: later bulk writes ride on it (it starts after them).
ANALYZE_PENDING_KEY: Final = "catalog:tables-analyze-pending"
# Refreshes finishing within this many seconds of each other share one analysis.
ANALYZE_DELAY_SECONDS: Final = 2
# A queued analysis that never ran (worker lost) stops holding back the next one after this long.
_ANALYZE_PENDING_TIMEOUT: Final = 300


def location_refresh_enqueue(*, location_id: str, changed_only: bool = False, entity_source: str | None = None) -> None:
    """Refresh one location in the worker, once the caller's transaction commits (at once outside of one).
    `changed_only`: the change check's refresh, which does not read local files whose stat is unchanged.
    `entity_source`: the refresh of one entity, which reads its source and the local files whose stat changed."""
    kwargs: dict[str, Any] = {"location_id": location_id}
    if changed_only:
        kwargs["changed_only"] = True
    if entity_source is not None:
        kwargs["entity_source"] = entity_source
    transaction.on_commit(partial(_send, LOCATION_REFRESH, **kwargs))


def tables_analyze_enqueue() -> None:
    """Refresh the catalog tables' statistics soon after the caller's transaction commits; debounced: while one
    analysis is queued and has not started, asking again adds nothing (the queued one will see this write)."""
    transaction.on_commit(_analyze_once)


def analyze_pending_key() -> str:
    """The mark of a queued analysis, per database (installations may share one Redis)."""
    return f"{ANALYZE_PENDING_KEY}:{database_key()}"


def _analyze_once() -> None:
    try:
        first = cache.add(analyze_pending_key(), True, timeout=_ANALYZE_PENDING_TIMEOUT)
    except Exception:  # a shared cache that is down: analyse anyway (one more VACUUM ANALYZE at worst)
        first = True
    if first:
        app.signature(TABLES_ANALYZE).apply_async(countdown=ANALYZE_DELAY_SECONDS)


def _send(name: str, **kwargs: Any) -> None:
    # Through the registered task (catalog.apps imports catalog.tasks), so its options and eager mode apply.
    app.signature(name, kwargs=kwargs).apply_async()
