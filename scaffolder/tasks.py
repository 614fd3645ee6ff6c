"""Scaffolder tasks: interfaces over scaffolder.runner and scaffolder.services, taking ids only. Services enqueue
them through scaffolder.jobs."""

from __future__ import annotations

from celery import shared_task

from portal.tasking import RETRYING, RecordsFailure
from scaffolder import jobs, runner, services


class RunExecuteTask(RecordsFailure):
    """An execution that gives up fails its run through `run_fail`: the step in progress and the run show the
    error, and the requester may retry it."""

    id_argument = "run_id"

    def record_failure(self, object_id: str, error: str) -> None:
        services.run_fail(run_id=object_id, error=error)


@shared_task(name=jobs.RUN_EXECUTE, base=RunExecuteTask, **RETRYING)
def run_execute(run_id: str) -> None:
    """Execute one run. Idempotent: a run taken by another worker, finished or deleted is left alone."""
    runner.run_execute(run_id=run_id)
