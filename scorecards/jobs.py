"""Scorecards' background jobs as its services ask for them: by Celery task name, once the transaction commits.

Services enqueue through here and `scorecards.tasks` imports the services it calls, so neither imports the other's
module in a circle. Only refs travel: the worker reads everything else from the database.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from django.db import transaction

from portal.celery import app

EVALUATE_ENTITY: Final = "scorecards.evaluate_entity"
EXEMPTIONS_EXPIRE: Final = "scorecards.exemptions_expire"


def entity_evaluate_enqueue(*, entity_ref: str) -> None:
    """Evaluate one entity on every scorecard in the worker, once the caller's transaction commits (at once outside
    of one). The task is registered under EVALUATE_ENTITY by the evaluation; it is asked for by name only."""
    transaction.on_commit(partial(_send, EVALUATE_ENTITY, entity_ref=entity_ref))


def _send(name: str, **kwargs: Any) -> None:
    # By name: through the registered task where this process has it (its options and eager mode apply), else to the
    # broker for a worker that has it.
    app.signature(name, kwargs=kwargs).apply_async()
