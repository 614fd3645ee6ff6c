"""Scaffolder tasks: interfaces over scaffolder.runner and scaffolder.services, taking ids only. Services enqueue
them through scaffolder.jobs."""

from __future__ import annotations

import structlog
from celery import shared_task

from portal.tasking import RETRYING, RecordsFailure
from scaffolder import jobs, runner, services

log = structlog.get_logger(__name__)


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


@shared_task(name=jobs.RUNS_RESUME_ABANDONED, ignore_result=True)
def runs_resume_abandoned() -> None:
    """Periodic: reopen and enqueue the processing runs whose worker was lost. Not retried: the beat runs it again."""
    resumed = services.runs_resume_abandoned()
    if resumed:
        log.warning("scaffolder.runs_resume_abandoned.resumed", count=len(resumed), run_ids=resumed)


@shared_task(name=jobs.RUN_FILES_SWEEP, ignore_result=True)
def run_files_sweep() -> None:
    """Periodic: remove run folders left behind for more than a day. Not retried: the beat runs it again."""
    removed = services.run_files_sweep()
    if removed:
        log.info("scaffolder.run_files_sweep.removed", count=len(removed))
