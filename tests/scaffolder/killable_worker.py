"""A real Celery worker that stops dead at a named point of a scaffolder run, for the worker-kill tests.

`python -m tests.scaffolder.killable_worker <celery worker arguments>` runs `celery worker` in this process with the
production settings, on the test database, after putting one pause into the scaffolder: when the run reaches the point
named by `PAVED_TEST_KILL_POINT`, the worker creates `<PAVED_TEST_SIGNALS>/<point>.reached` and waits there, without
returning, until the test kills it (SIGKILL: nothing of Celery's or the runner's own handling runs).

Points:
- `after-git-init`: publish:git has run `git init` for the new bare repository, and nothing more.
- `after-publish`: publish:git returned (repository and commit made) and the step is not recorded as completed.
- `before-register`: publish:git is recorded as completed and catalog:register is processing, not yet started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from tests.paths import REPO_ROOT

POINTS: Final = ("after-git-init", "after-publish", "before-register")
TIMEOUT: Final = 120.0


# --- the test side --------------------------------------------------------------------------------------


@contextmanager
def killable_worker(
    *, point: str, signals: Path, queue: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start the worker on a queue of its own, sending the test's tasks to it; yields the process and the queue."""
    from django.conf import settings

    from portal.celery import app as celery_app
    from tests.catalog.processes import process_env

    if point not in POINTS:
        raise ValueError(f"unknown point {point!r}; one of {POINTS}")
    queue = queue or f"paved-test-{uuid.uuid4().hex[:8]}"
    env = process_env(PAVED_CELERY_QUEUE=queue, PAVED_TEST_KILL_POINT=point, PAVED_TEST_SIGNALS=str(signals))
    log = open(Path(settings.VAR_DIR) / f"worker-{queue}-killable.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "tests.scaffolder.killable_worker"]
    command += ["--pool=solo", "--without-gossip", "--without-mingle", "-Q", queue, "-n", f"killable-{queue}@%h"]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield process, queue
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def wait_reached(process: subprocess.Popen[bytes], signals: Path, point: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not (signals / f"{point}.reached").exists():
        if process.poll() is not None:
            raise AssertionError(f"the worker ended (exit {process.returncode}) before {point}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not reach {point} within {TIMEOUT} s")
        time.sleep(0.02)


# --- the worker side ------------------------------------------------------------------------------------


def _stop_here(point: str) -> None:
    signals = Path(os.environ["PAVED_TEST_SIGNALS"])
    (signals / f"{point}.reached").touch()
    while True:  # until SIGKILL
        time.sleep(1)


class _Paused:
    """An action that stops before or after the real one runs."""

    def __init__(self, action: Any, *, before: str | None = None, after: str | None = None) -> None:
        self._action = action
        self._before = before
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._action, name)

    def run(self, ctx: Any) -> Any:
        if self._before:
            _stop_here(self._before)
        output = self._action.run(ctx)
        if self._after:
            _stop_here(self._after)
        return output


def _install_pause(point: str) -> None:
    from scaffolder import runner
    from scaffolder.publishers import local

    if point == "after-git-init":
        git_run = local._Git.run

        def run_then_stop(self: Any, args: list[str], **kwargs: Any) -> str:
            output = git_run(self, args, **kwargs)
            if args[:1] == ["init"]:
                _stop_here(point)
            return output

        local._Git.run = run_then_stop  # type: ignore[method-assign]
        return
    action_get = runner.action_get

    def paused_action_get(action_id: str) -> Any:
        action = action_get(action_id)
        if point == "after-publish" and action_id == "publish:git":
            return _Paused(action, after=point)
        if point == "before-register" and action_id == "catalog:register":
            return _Paused(action, before=point)
        return action

    runner.action_get = paused_action_get  # type: ignore[assignment]


def main(argv: list[str]) -> None:
    import django

    django.setup()
    from portal.celery import app

    _install_pause(os.environ["PAVED_TEST_KILL_POINT"])
    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
