"""Scaffolder tasks: interfaces over scaffolder.runner and scaffolder.services, taking ids only. Services enqueue
them through scaffolder.jobs."""

from __future__ import annotations

from typing import Any, Final

import structlog
from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError

from scaffolder import jobs, runner, services

log = structlog.get_logger(__name__)

MAX_RETRIES: Final = 5
# A step's own errors are recorded by the runner; what is left worth retrying is the database going away.
TRANSIENT: Final = (OperationalError, InterfaceError)


class RunExecuteTask(Task[Any, Any]):
    """An execution that ends in an error (retries used up, or an error not worth retrying) fails its run through
    `run_fail`: the step in progress and the run show the error, and the requester may retry it."""

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        run_id = kwargs.get("run_id", args[0] if args else None)
        log.warning("scaffolder.run_execute.failed", run_id=run_id, error=str(exc))
        if not isinstance(run_id, str):
            return
        try:
            services.run_fail(run_id=run_id, error=str(exc) or type(exc).__name__)
        except (DatabaseError, ValidationError) as failure:  # the database that failed may be gone still; a bad id
            log.error("scaffolder.run_execute.fail_not_recorded", run_id=run_id, error=str(failure))


@shared_task(
    name=jobs.RUN_EXECUTE,
    base=RunExecuteTask,
    ignore_result=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def run_execute(run_id: str) -> None:
    """Execute one run. Idempotent: a run taken by another worker, finished or deleted is left alone."""
    runner.run_execute(run_id=run_id)
