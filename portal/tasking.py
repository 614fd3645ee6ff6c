"""What every Paved task that works on one row shares: Celery's own retries for a database that went away, and a
failure recorded on the row once the task gives up.

A task subclasses `RecordsFailure`, names the argument that carries its row's id and how to record the failure
(a `*_fail` service), and passes `RETRYING` to `shared_task`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import structlog
from billiard.einfo import ExceptionInfo
from celery import Task
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError

log = structlog.get_logger(__name__)

MAX_RETRIES: Final = 5
# Errors of the work itself are recorded by the services; what is left worth retrying is the database going away.
TRANSIENT: Final = (OperationalError, InterfaceError)
RETRYING: Final[dict[str, Any]] = {
    "ignore_result": True,
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


class RecordsFailure(Task[Any, Any]):
    """A task that ends in an error (retries used up, or an error not worth retrying) records it on its row."""

    id_argument: ClassVar[str]

    def record_failure(self, object_id: str, error: str) -> None:
        raise NotImplementedError

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        object_id = kwargs.get(self.id_argument, args[0] if args else None)
        log.warning("task.failed", task=self.name, object_id=object_id, error=str(exc))
        if not isinstance(object_id, str):
            return
        try:
            self.record_failure(object_id, str(exc) or type(exc).__name__)
        except (DatabaseError, ValidationError) as failure:  # the database that failed may be gone still; a bad id
            log.error("task.failure_not_recorded", task=self.name, object_id=object_id, error=str(failure))
