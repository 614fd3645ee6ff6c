"""Catalog writes, web servers and workers in processes of their own, for the concurrency tests.

`python -m tests.catalog.processes <action> ...` runs one catalog service in a fresh interpreter with the production
settings, against the test database (`DATABASE_URL`), and prints its outcome as one JSON line. It can stop at a
named point: it creates `<signals>/<point>.reached` and goes on once the test creates `<point>.go`, so a test decides
exactly how two processes interleave, each on its own database connection.

Points: `after-read` (a refresh has read its sources and not started writing), `in-write` (a refresh holds its write
transaction, entities and relations written, not committed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.paths import REPO_ROOT

TIMEOUT = 60.0
_OUTCOME = "outcome: "


# --- the test side --------------------------------------------------------------------------------------


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a web, worker or service process on the test database, as tests/worker.py builds it."""
    from django.conf import settings

    from tests.worker import database_url

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PAVED_VAR_DIR": str(settings.VAR_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "PAVED_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_ROOT),
        **extra,
    }


class Service:
    """One `python -m tests.catalog.processes` run: start it, release its pause, read its outcome."""

    def __init__(self, signals: Path, *args: str, pause: str | None = None) -> None:
        self.signals = signals
        self.pause = pause
        self.tag = uuid.uuid4().hex[:8]
        command = [sys.executable, "-m", "tests.catalog.processes", *args]
        env = process_env(PAVED_TEST_SIGNALS=str(signals), PAVED_TEST_PAUSE=f"{pause}:{self.tag}" if pause else "")
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def _signal(self, suffix: str) -> Path:
        return self.signals / f"{self.pause}-{self.tag}.{suffix}"

    def wait_paused(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not self._signal("reached").exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the process ended before {self.pause}: {self.result()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the process did not reach {self.pause}")
            time.sleep(0.02)

    def release(self) -> None:
        self._signal("go").touch()

    def result(self) -> dict[str, Any]:
        """The process's outcome: what the service returned, or {"error": ...} with its traceback."""
        stdout, stderr = self.process.communicate(timeout=TIMEOUT)
        lines = [line for line in stdout.splitlines() if line.startswith(_OUTCOME)]
        if not lines:
            return {"error": f"no outcome (exit {self.process.returncode})", "stderr": stderr[-3000:]}
        outcome: dict[str, Any] = json.loads(lines[-1][len(_OUTCOME) :])
        return outcome

    def running(self) -> bool:
        return self.process.poll() is None


def wait_until_blocked(probe: Callable[[], bool], *, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.02)
    return False


@contextmanager
def running_web(*, port: int, processes: int = 2, env: dict[str, str] | None = None) -> Iterator[str]:
    """Granian serving Paved from `processes` worker processes on 127.0.0.1:`port`, as `make serve` runs it."""
    from django.conf import settings

    granian = Path(sys.executable).with_name("granian")
    log = open(Path(settings.VAR_DIR) / f"web-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(granian),
            "--interface",
            "wsgi",
            "portal.wsgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--blocking-threads",
            "4",
            "--no-ws",
        ],
        env=env or process_env(),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# --- the process side -----------------------------------------------------------------------------------


def _pause_here(point: str) -> None:
    wanted, _, tag = os.environ.get("PAVED_TEST_PAUSE", "").partition(":")
    if wanted != point:
        return
    signals = Path(os.environ["PAVED_TEST_SIGNALS"])
    (signals / f"{point}-{tag}.reached").touch()
    deadline = time.monotonic() + TIMEOUT
    while not (signals / f"{point}-{tag}.go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody released {point}")
        time.sleep(0.01)


def _install_pauses() -> None:
    from catalog import ingest
    from catalog.locations import walk

    location_read = walk.location_read
    rewrite_derived_rows = ingest._rewrite_derived_rows

    def read_then_pause(**kwargs: Any) -> Any:
        outcome = location_read(**kwargs)
        _pause_here("after-read")
        return outcome

    def write_then_pause(*args: Any, **kwargs: Any) -> None:
        rewrite_derived_rows(*args, **kwargs)
        _pause_here("in-write")

    walk.location_read = read_then_pause  # type: ignore[assignment]
    ingest._rewrite_derived_rows = write_then_pause  # type: ignore[assignment]


def _run(action: str, args: list[str]) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from catalog import services
    from catalog.models import Entity, Location

    if action == "refresh":
        location = Location.objects.get(pk=args[0])
        result = services.location_refresh(location=location)
        applied = result.applied
        return {
            "created": applied.created,
            "updated": applied.updated,
            "unchanged": applied.unchanged,
            "errors": applied.errors,
            "skipped": result.location_deleted,
        }
    actor = User.objects.get(username=args[1])
    if action == "delete-location":
        location = Location.objects.get(pk=args[0])
        return {"deleted": services.location_delete(location=location, actor=actor)}
    if action == "delete-entity":
        entity = Entity.objects.get(ref=args[0])
        services.entity_delete(entity=entity, actor=actor)
        return {"deleted": entity.ref}
    raise SystemExit(f"unknown action {action!r}")


def main(argv: list[str]) -> int:
    import django

    django.setup()
    _install_pauses()
    try:
        outcome = _run(argv[0], argv[1:])
    except Exception as exc:
        error = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(_OUTCOME + json.dumps(error), flush=True)
        return 1
    print(_OUTCOME + json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
