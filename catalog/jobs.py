"""The catalog's background jobs as its services ask for them: by Celery task name, once the transaction commits.

Services enqueue through here and `catalog.tasks` imports the services it calls, so neither imports the other's
module in a circle. The task names are the ones `catalog.tasks` registers and `CELERY_BEAT_SCHEDULE` uses.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from django.db import transaction

from portal.celery import app

LOCATION_REFRESH: Final = "catalog.location_refresh"
REFRESH_DUE: Final = "catalog.refresh_due"


def location_refresh_enqueue(*, location_id: str) -> None:
    """Refresh one location in the worker, once the caller's transaction commits (at once outside of one)."""
    transaction.on_commit(partial(_send, LOCATION_REFRESH, location_id=location_id))


def _send(name: str, **kwargs: Any) -> None:
    # Through the registered task (catalog.apps imports catalog.tasks), so its options and eager mode apply.
    app.signature(name, kwargs=kwargs).apply_async()
