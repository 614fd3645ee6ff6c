"""The scaffolder's background jobs as its services ask for them: by Celery task name, once the transaction commits.

Services enqueue through here and `scaffolder.tasks` imports the services it calls, so neither imports the other's
module in a circle. Only ids travel: parameters and anything secret stay in the database.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from django.db import transaction

from portal.celery import app

RUN_EXECUTE: Final = "scaffolder.run_execute"
# Periodic (CELERY_BEAT_SCHEDULE in portal.settings).
RUNS_RESUME_ABANDONED: Final = "scaffolder.runs_resume_abandoned"
RUN_FILES_SWEEP: Final = "scaffolder.run_files_sweep"


def run_execute_enqueue(*, run_id: str) -> None:
    """Execute one run in the worker, once the caller's transaction commits (at once outside of one)."""
    transaction.on_commit(partial(_send, RUN_EXECUTE, run_id=run_id))


def _send(name: str, **kwargs: Any) -> None:
    # Through the registered task (scaffolder.apps imports scaffolder.tasks), so its options and eager mode apply.
    app.signature(name, kwargs=kwargs).apply_async()
