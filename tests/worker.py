"""A real Celery worker process for integration tests, on the same broker and database as the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def running_worker(*, log_level: str = "WARNING", pool: str = "solo") -> Iterator[subprocess.Popen[bytes]]:
    """Start `celery worker` on a queue of its own; the test process sends to that queue instead of running eagerly.
    `pool` "prefork" runs tasks in a child process, as production does (one child)."""
    with running_workers(1, log_level=log_level, pool=pool) as processes:
        yield processes[0]


@contextmanager
def running_workers(
    count: int, *, queue: str | None = None, log_level: str = "WARNING", pool: str = "solo"
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes on one queue of their own (`queue`, or a new one), taking tasks side by side."""
    queue = queue or f"paved-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PAVED_CELERY_QUEUE": queue,
        "PAVED_VAR_DIR": str(settings.VAR_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "PAVED_LOG_LEVEL": log_level,
    }
    celery = Path(sys.executable).with_name("celery")
    logs = [open(Path(settings.VAR_DIR) / f"worker-{queue}-{n}.log", "wb") for n in range(count)]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [
                str(celery),
                "-A",
                "portal",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                f"--loglevel={log_level}",
                "-Q",
                queue,
                "-n",
                f"worker{n}@%h",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n, log in enumerate(logs)
    ]
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield processes
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def worker_log(process: subprocess.Popen[bytes]) -> str:
    logs = sorted(Path(settings.VAR_DIR).glob("worker-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(errors="replace")[-4000:] if logs else ""


def worker_logs(processes: list[subprocess.Popen[bytes]]) -> str:
    """The whole logs of the last `len(processes)` workers started."""
    logs = sorted(Path(settings.VAR_DIR).glob("worker-*.log"), key=lambda p: p.stat().st_mtime)
    return "\n".join(path.read_text(errors="replace") for path in logs[-len(processes) :])
