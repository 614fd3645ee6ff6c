"""A worker killed in the middle of a scaffolder run (SIGKILL: no error handling runs), then the run picked up again
by another worker: still exactly one repository, one initial commit carrying the run's Paved-Run trailer, and one
catalog entity. Real Celery workers on the test's broker and database (PostgreSQL + Redis in CI, and SQLite with the
filesystem broker)."""

from __future__ import annotations

import io
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Entity, Location
from scaffolder import services, tasks
from scaffolder.models import Event, Run, Step
from scaffolder.publishers.local import TRAILER
from tests.scaffolder.killable_worker import killable_worker, wait_reached
from tests.worker import running_worker, wait_for, worker_log

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PARAMETERS = {
    "description": "Tracks parcels",
    "owner": "group:default/fulfilment",
    "system": "system:default/fulfilment",
    "lifecycle": "experimental",
    "memoryMiB": 512,
    "cpu": 0.5,
    "escalationPolicy": "escalationpolicy:default/fulfilment",
}


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={repository}", *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("point", "interrupted"),
    [
        ("after-git-init", "publish"),  # the bare repository exists, empty
        ("after-publish", "publish"),  # repository and commit made, the step not recorded
        ("before-register", "register"),  # publish recorded, catalog:register not started
    ],
)
def test_a_run_whose_worker_is_killed_mid_step_resumes_into_one_repository_and_one_entity(
    tmp_path: Path, point: str, interrupted: str
) -> None:
    call_command("demo_setup", stdout=io.StringIO())
    template = Entity.objects.get(kind="Template", name="python-service")
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", first_name="Ada")
    suffix = uuid.uuid4().hex[:8]
    owner, name = f"killed-{suffix}", f"svc-{suffix}"
    parameters = {**PARAMETERS, "name": name, "repoUrl": f"local?owner={owner}&repo={name}"}
    signals = tmp_path / "signals"
    signals.mkdir()

    with killable_worker(point=point, signals=signals) as (doomed, _queue):
        run = services.run_create(template=template.data, parameters=parameters, actor=user)
        wait_reached(doomed, signals, point)
        doomed.kill()
        doomed.wait(timeout=30)

    run.refresh_from_db()
    assert run.status == Run.Status.PROCESSING
    assert run.steps.get(step_id=interrupted).status == Step.Status.PROCESSING
    # A second delivery of the task now finds the run taken and leaves it; nobody resumes a run that looks alive.
    assert services.runs_resume_abandoned() == []
    # The dead worker gives no more signs of life; time passes beyond the limit.
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - services.RUN_STALE_AFTER - timedelta(seconds=1))

    with running_worker() as worker:
        tasks.runs_resume_abandoned.delay()  # what the beat sends every few minutes
        finished = wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=120)
        log = worker_log(worker)
    assert finished, log

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, (run.error, log)
    assert Event.objects.filter(run=run, body__startswith="The worker running it was lost").count() == 1
    repos = Path(settings.VAR_DIR) / "repos" / owner
    assert sorted(path.name for path in repos.glob("*.git")) == [f"{name}.git"]
    repository = repos / f"{name}.git"
    commits = _git(repository, "rev-list", "--all").split()
    assert len(commits) == 1
    message = _git(repository, "log", "-1", "--format=%B", commits[0])
    assert f"{TRAILER}: {run.pk}:publish" in message
    assert Entity.objects.filter(kind__iexact="component", name=name).count() == 1
    assert Location.objects.filter(target__startswith=str(repository)).count() == 1
    assert run.steps.get(step_id="register").output["entityRef"] == f"component:default/{name}"
    # The run ended: its folder is gone.
    assert not (services.runs_root() / str(run.pk)).exists()
