"""Scaffolder tasks: execute by id through the runner, retries on transient database errors, the failure hook."""

from __future__ import annotations

from typing import cast

import pytest
from celery.exceptions import Retry
from django.contrib.auth.models import User
from django.db import OperationalError
from django.utils import timezone

from portal.celery import app as celery_app
from scaffolder import jobs, runner, services, tasks
from scaffolder.models import Event, Run, Step
from tests.portal.factories import UserFactory
from tests.scaffolder.factories import RunFactory, StepFactory, template_data


def test_the_task_is_registered_under_the_name_jobs_sends():
    assert jobs.RUN_EXECUTE in celery_app.tasks
    assert tasks.run_execute.name == jobs.RUN_EXECUTE


def test_the_task_executes_the_run_by_id(db, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(runner, "run_execute", lambda *, run_id: seen.append(run_id))
    tasks.run_execute.apply(kwargs={"run_id": "abc"}).get()
    assert seen == ["abc"]


def test_a_transient_database_error_is_retried(db, monkeypatch):
    def down(*, run_id: str) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(runner, "run_execute", down)
    monkeypatch.setattr(tasks.run_execute, "retry", lambda *args, **kwargs: (_ for _ in ()).throw(Retry()))
    with pytest.raises(Retry):
        tasks.run_execute.run(run_id="abc")


def test_on_failure_fails_the_run_and_its_step_in_progress(db):
    run = RunFactory(status=Run.Status.PROCESSING, started_at=timezone.now())
    step = StepFactory(run=run, status=Step.Status.PROCESSING)
    tasks.run_execute.on_failure(RuntimeError("worker broke"), "task-id", (), {"run_id": str(run.pk)}, None)  # type: ignore[arg-type]
    run.refresh_from_db()
    step.refresh_from_db()
    assert (run.status, run.error, step.status) == ("failed", "worker broke", "failed")


def test_on_failure_ignores_bad_and_missing_ids(db):
    tasks.run_execute.on_failure(RuntimeError("x"), "task-id", (), {}, None)  # type: ignore[arg-type]
    tasks.run_execute.on_failure(RuntimeError("x"), "task-id", (), {"run_id": "not-a-uuid"}, None)  # type: ignore[arg-type]
    tasks.run_execute.on_failure(
        RuntimeError("x"),
        "task-id",
        (),
        {"run_id": "6a0c1c1e-0000-4000-8000-000000000000"},
        None,  # type: ignore[arg-type]
    )


def test_a_created_run_executes_through_the_task_with_the_real_actions(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    template = template_data(
        steps=[{"id": "hello", "action": "debug:log", "input": {"message": "Hello ${{ parameters.name }}"}}],
        output={"text": [{"title": "Greeted", "content": "${{ parameters.name }}"}]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(
            template=template, parameters={"name": "Ada"}, actor=cast(User, UserFactory(username="ada"))
        )
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.output == {"text": [{"title": "Greeted", "content": "Ada"}]}
    assert Event.objects.filter(run=run, type=Event.Type.LOG, body="Hello Ada").exists()
