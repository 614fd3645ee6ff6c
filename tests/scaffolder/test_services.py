"""Scaffolder run services: create with guard rails, approve, reject, cancel, retry, fail, and the audit trail."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from portal.exceptions import ApplicationError, ConflictError, ForbiddenError
from portal.models import AuditEvent
from portal.permissions import Action, NotPermitted, may
from scaffolder import jobs, services, tasks
from scaffolder.models import Approval, Event, Run, Step
from tests.catalog.factories import seed_org
from tests.portal.factories import AdminFactory, UserFactory
from tests.scaffolder.factories import RunFactory, StepFactory, template_data

MEMORY_RAIL = {
    "if": "${{ parameters.memoryMiB > 1024 }}",
    "approvers": "group:payments",
    "reason": "More than 1 GiB of memory",
}


@pytest.fixture
def org(db):
    seed_org()


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(jobs, "run_execute_enqueue", lambda *, run_id: sent.append(run_id))
    return sent


def _steps() -> list[dict[str, object]]:
    return [
        {"id": "fetch", "name": "Fetch", "action": "test:echo", "input": {"x": "${{ parameters.name }}"}},
        {"id": "publish", "action": "test:echo", "input": {}},
    ]


def test_run_create_makes_the_steps_in_order_and_enqueues_on_commit(
    org, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(jobs, "_send", lambda name, **kwargs: sent.append((name, kwargs)))
    carol = UserFactory(username="carol")
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.run_create(
            template=template_data(steps=_steps(), guardrails=[MEMORY_RAIL]),
            parameters={"name": "svc", "memoryMiB": 512},
            actor=carol,
        )
    assert run.status == Run.Status.OPEN
    assert run.template_ref == "template:default/service"
    assert run.user_ref == "user:default/carol"
    assert [(s.position, s.step_id, s.name, s.status) for s in run.steps.all()] == [
        (0, "fetch", "Fetch", "pending"),
        (1, "publish", "publish", "pending"),
    ]
    assert not run.approvals.exists()
    assert len(callbacks) == 1
    assert sent == []
    callbacks[0]()
    assert sent == [(jobs.RUN_EXECUTE, {"run_id": str(run.pk)})]
    assert AuditEvent.objects.filter(action="scaffolder.run.create", target_id=str(run.pk)).exists()


def test_a_guard_rail_that_holds_makes_the_run_wait_for_approval(org, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(
            template=template_data(steps=_steps(), guardrails=[MEMORY_RAIL]),
            parameters={"name": "svc", "memoryMiB": 2048},
            actor=UserFactory(username="carol"),
        )
    assert run.status == Run.Status.AWAITING_APPROVAL
    approval = run.approvals.get()
    assert (approval.approver_ref, approval.reason, approval.decision) == (
        "group:default/payments",
        "More than 1 GiB of memory",
        "",
    )
    assert queued == []
    assert Event.objects.filter(run=run, body__contains="More than 1 GiB").exists()


def _waiting(requester: str = "alice") -> Run:
    run = services.run_create(
        template=template_data(steps=_steps(), guardrails=[MEMORY_RAIL]),
        parameters={"name": "svc", "memoryMiB": 4096},
        actor=cast(User, UserFactory(username=requester)),
    )
    assert run.status == Run.Status.AWAITING_APPROVAL
    return run


def test_a_member_of_the_approver_group_approves_and_the_run_is_enqueued(org, queued):
    run = _waiting("carol")
    bob = UserFactory(username="bob")
    services.run_approve(run=run, actor=bob, comment="fine")
    run.refresh_from_db()
    approval = run.approvals.get()
    assert run.status == Run.Status.OPEN
    assert (approval.decision, approval.decided_by, approval.comment) == ("approved", bob, "fine")
    assert approval.decided_at is not None
    assert queued == [str(run.pk)]
    assert AuditEvent.objects.filter(action="scaffolder.run.approve", target_id=str(run.pk)).exists()


def test_an_administrator_approves(org, queued):
    run = _waiting("carol")
    services.run_approve(run=run, actor=AdminFactory(username="root"), comment="")
    run.refresh_from_db()
    assert run.status == Run.Status.OPEN


def test_the_requester_never_approves_their_own_run_even_in_the_approver_group(org, queued):
    run = _waiting("alice")  # alice is in payments
    with pytest.raises(NotPermitted):
        services.run_approve(run=run, actor=run.created_by, comment="me")
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL
    assert queued == []


def test_someone_outside_the_approver_group_cannot_approve(org, queued):
    run = _waiting("alice")
    assert run.approver_ref == "group:default/payments"
    assert may(UserFactory(username="bob"), Action.SCAFFOLDER_RUN_APPROVE, run)
    assert not may(UserFactory(username="carol"), Action.SCAFFOLDER_RUN_APPROVE, run)
    with pytest.raises(NotPermitted):
        services.run_approve(run=run, actor=UserFactory(username="carol"), comment="")


def test_reject_cancels_the_run_with_the_comment(org, queued):
    run = _waiting("carol")
    services.run_reject(run=run, actor=UserFactory(username="bob"), comment="too big")
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert "too big" in run.error
    assert "bob" in run.error
    assert run.approvals.get().decision == Approval.Decision.REJECTED
    assert set(run.steps.values_list("status", flat=True)) == {"cancelled"}
    assert queued == []
    assert AuditEvent.objects.filter(action="scaffolder.run.reject").exists()
    with pytest.raises(ConflictError):
        services.run_approve(run=run, actor=UserFactory(username="bob"), comment="")
    with pytest.raises(ConflictError):
        services.run_retry(run=run, actor=run.created_by)


def test_cancel_an_open_run_ends_it_and_its_steps(db):
    step = StepFactory()
    run = services.run_cancel(run=step.run, actor=step.run.created_by)
    step.refresh_from_db()
    assert (run.status, step.status) == (Run.Status.CANCELLED, Step.Status.CANCELLED)
    assert run.finished_at is not None
    with pytest.raises(ConflictError):
        services.run_cancel(run=run, actor=run.created_by)


def test_cancel_a_processing_run_asks_it_to_stop(db):
    run = RunFactory(status=Run.Status.PROCESSING, heartbeat_at=timezone.now())
    services.run_cancel(run=run, actor=AdminFactory())
    run.refresh_from_db()
    assert run.status == Run.Status.PROCESSING
    assert run.cancel_requested


def test_cancel_a_processing_run_whose_worker_was_lost_ends_it(db):
    run = RunFactory(status=Run.Status.PROCESSING, heartbeat_at=timezone.now() - timedelta(hours=2))
    step = StepFactory(run=run, status=Step.Status.PROCESSING)
    services.run_cancel(run=run, actor=run.created_by)
    run.refresh_from_db()
    step.refresh_from_db()
    assert (run.status, step.status) == (Run.Status.CANCELLED, Step.Status.CANCELLED)


def test_only_the_requester_or_an_administrator_cancels(db):
    run = RunFactory()
    with pytest.raises(ForbiddenError):
        services.run_cancel(run=run, actor=UserFactory())


@pytest.fixture
def var_dir(settings, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def _files_of(run: Run, *, dry_run_files: bool = True) -> Path:
    """Give the run the folder a worker makes: its workspace (with a file) and the exported template."""
    folder = services.runs_root() / str(run.pk)
    (folder / "workspace").mkdir(parents=True)
    (folder / "workspace" / "README.md").write_text("hello")
    (folder / "template").mkdir()
    (folder / "template" / "template.yaml").write_text("kind: Template")
    return folder


def test_retry_resets_the_failed_step_and_later_and_keeps_completed_outputs(db, queued, var_dir):
    run = RunFactory(status=Run.Status.FAILED, error="boom", finished_at=timezone.now())
    _files_of(run)
    a = StepFactory(run=run, position=0, status=Step.Status.COMPLETED, output={"x": 1})
    b = StepFactory(run=run, position=1, status=Step.Status.FAILED, error="boom", output={"partial": True})
    c = StepFactory(run=run, position=2, status=Step.Status.CANCELLED)
    services.run_retry(run=run, actor=run.created_by)
    run.refresh_from_db()
    for step in (a, b, c):
        step.refresh_from_db()
    assert (run.status, run.error, run.finished_at) == (Run.Status.OPEN, "", None)
    assert (a.status, a.output) == ("completed", {"x": 1})
    assert (b.status, b.output, b.error) == ("pending", {}, "")
    assert c.status == "pending"
    assert queued == [str(run.pk)]


def test_retry_refuses_a_run_that_is_running_or_done(db, queued):
    run = RunFactory(status=Run.Status.PROCESSING, heartbeat_at=timezone.now())
    with pytest.raises(ConflictError):
        services.run_retry(run=run, actor=run.created_by)
    done = RunFactory(status=Run.Status.COMPLETED, finished_at=timezone.now())
    with pytest.raises(ConflictError):
        services.run_retry(run=done, actor=done.created_by)
    with pytest.raises(ForbiddenError):
        services.run_retry(run=RunFactory(status=Run.Status.FAILED), actor=UserFactory())


def test_retry_takes_over_a_processing_run_whose_worker_was_lost(db, queued):
    run = RunFactory(status=Run.Status.PROCESSING, heartbeat_at=timezone.now() - timedelta(hours=2))
    step = StepFactory(run=run, status=Step.Status.PROCESSING)
    services.run_retry(run=run, actor=run.created_by)
    step.refresh_from_db()
    assert step.status == Step.Status.PENDING
    assert queued == [str(run.pk)]


def test_run_fail_fails_the_step_in_progress_and_the_run(db):
    run = RunFactory(status=Run.Status.PROCESSING)
    step = StepFactory(run=run, status=Step.Status.PROCESSING)
    services.run_fail(run_id=str(run.pk), error="database gone")
    run.refresh_from_db()
    step.refresh_from_db()
    assert (run.status, run.error, step.status) == ("failed", "database gone", "failed")
    assert Event.objects.filter(run=run, type=Event.Type.ERROR, step=step).exists()
    services.run_fail(run_id=str(run.pk), error="again")  # a finished run is left alone
    run.refresh_from_db()
    assert run.error == "database gone"
    assert services.run_fail(run_id="6a0c1c1e-0000-4000-8000-000000000000", error="x") is None


def test_event_append_adds_to_the_log(db):
    run = RunFactory()
    event = services.event_append(run=run, type=Event.Type.LOG, body="x" * 20_000)
    assert len(event.body) == services.MAX_EVENT_BODY


@pytest.mark.parametrize(
    "rail",
    [
        {"if": True, "approvers": "", "reason": "nobody named"},
        {"if": "${{ parameters.memoryMiB > }}", "approvers": "group:payments"},
    ],
)
def test_a_broken_guard_rail_refuses_the_run_and_creates_nothing(db, queued, rail):
    with pytest.raises(ApplicationError):
        services.run_create(template=template_data(guardrails=[rail]), parameters={}, actor=cast(User, UserFactory()))
    assert not Run.objects.exists()
    assert queued == []


def test_an_anonymous_actor_cannot_create_a_run(db, queued):
    with pytest.raises(ForbiddenError):
        services.run_create(template=template_data(), parameters={}, actor=None)


def test_retry_of_a_run_whose_files_were_removed_runs_again_from_its_first_step(db, queued, var_dir):
    run = RunFactory(status=Run.Status.FAILED, error="boom", finished_at=timezone.now())
    a = StepFactory(run=run, position=0, status=Step.Status.COMPLETED, output={"x": 1})
    b = StepFactory(run=run, position=1, status=Step.Status.FAILED, error="boom")
    services.run_retry(run=run, actor=run.created_by)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.output, b.status) == ("pending", {}, "pending")
    assert Event.objects.filter(run=run, body__contains="from step step-0").exists()
    assert queued == [str(run.pk)]


# --- several approvers -----------------------------------------------------------------------------------

TWO_TEAMS_RAIL = {
    "if": "${{ parameters.memoryMiB > 1024 }}",
    "approvers": ["group:frontend", "group:payments", "group:default/frontend"],
    "reason": "Big",
}


def _waiting_for_two_teams(requester: str = "alice") -> Run:
    return services.run_create(
        template=template_data(steps=_steps(), guardrails=[TWO_TEAMS_RAIL]),
        parameters={"name": "svc", "memoryMiB": 4096},
        actor=cast(User, UserFactory(username=requester)),
    )


def test_a_guard_rail_with_a_list_of_approvers_records_them_all_in_order_without_repeats(org, queued):
    run = _waiting_for_two_teams()
    approval = run.approvals.get()
    assert approval.approver_refs == ("group:default/frontend", "group:default/payments")
    assert run.approver_refs == ("group:default/frontend", "group:default/payments")
    assert Event.objects.filter(
        run=run, body="Needs approval by group:default/frontend or group:default/payments: Big"
    ).exists()


@pytest.mark.parametrize("approver", ["carol", "bob"])  # carol is in frontend, bob in payments
def test_a_member_of_any_listed_group_approves_the_guard_rail_alone(org, queued, approver):
    run = _waiting_for_two_teams("alice")
    user = UserFactory(username=approver)
    assert may(user, Action.SCAFFOLDER_RUN_APPROVE, run)
    services.run_approve(run=run, actor=user, comment="ok")
    run.refresh_from_db()
    assert run.status == Run.Status.OPEN
    assert run.approvals.get().decided_by == user
    assert queued == [str(run.pk)]


def test_someone_in_none_of_the_listed_groups_cannot_approve(org, queued):
    run = _waiting_for_two_teams("alice")
    outsider = UserFactory(username="dave")
    assert not may(outsider, Action.SCAFFOLDER_RUN_APPROVE, run)
    with pytest.raises(NotPermitted):
        services.run_approve(run=run, actor=outsider)
    with pytest.raises(NotPermitted):
        services.run_approve(run=run, actor=run.created_by)  # alice is in payments, but asked for it


def test_two_guard_rails_need_one_approval_each(org, queued):
    run = services.run_create(
        template=template_data(steps=_steps(), guardrails=[MEMORY_RAIL, {**TWO_TEAMS_RAIL, "approvers": "frontend"}]),
        parameters={"name": "svc", "memoryMiB": 4096},
        actor=cast(User, UserFactory(username="alice")),
    )
    services.run_approve(run=run, actor=UserFactory(username="bob"))
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL
    assert run.approver_refs == ("group:default/frontend",)
    services.run_approve(run=run, actor=UserFactory(username="carol"))
    run.refresh_from_db()
    assert run.status == Run.Status.OPEN


@pytest.mark.parametrize(
    ("approvers", "message"),
    [
        ([], "expected a ref or a list of 1 to 20 refs, got 0"),
        (["group:payments", 7], "spec.guardrails[0].approvers[1]: expected a ref such as group:platform, got int"),
        (["group:payments", ""], "spec.guardrails[0].approvers[1]:"),
        (["group:payments", None], "spec.guardrails[0].approvers[1]: expected a ref"),
        ([["group:payments"]], "spec.guardrails[0].approvers[0]: expected a ref such as group:platform, got list"),
        ({"group": "payments"}, "spec.guardrails[0].approvers: expected a ref such as group:platform, got dict"),
        (None, "spec.guardrails[0].approvers: expected a ref"),
        ([f"group:team-{n}" for n in range(21)], "expected a ref or a list of 1 to 20 refs, got 21"),
        (["group:x/y/z"], "spec.guardrails[0].approvers[0]: Entity reference"),
        ("x" * 600, "spec.guardrails[0].approvers: a ref of 614 characters; at most 512"),
    ],
)
def test_bad_approvers_refuse_the_run_and_say_where(db, queued, approvers: Any, message: str):
    rail = {"if": True, "approvers": approvers, "reason": "x"}
    with pytest.raises(ApplicationError) as refused:
        services.run_create(template=template_data(guardrails=[rail]), parameters={}, actor=cast(User, UserFactory()))
    assert message in str(refused.value)
    assert not Run.objects.exists()


# --- the template's version ------------------------------------------------------------------------------


def _from_git(ref: str) -> dict[str, Any]:
    template = template_data(
        steps=[{"id": "v", "action": "test:echo", "input": {}}],
        guardrails=[{"if": "${{ template.version == '1.0.0' and template.tag == 'v1.0.0' }}", "approvers": "payments"}],
    )
    template["metadata"]["annotations"] = {
        "backstage.io/managed-by-location": f"git:/srv/repos/templates/service.git#{ref}:template.yaml",
        "paved.dev/template-version": "9.9.9",  # a stale copy in the template never wins over the tag
    }
    return template


def test_a_run_of_a_tagged_template_records_its_version_and_tag_and_expressions_see_them(db, queued):
    run = services.run_create(template=_from_git("v1.0.0"), parameters={}, actor=cast(User, UserFactory()))
    assert (run.template_version, run.template_tag) == ("1.0.0", "v1.0.0")
    # The guard rail above only holds when expressions see the same version and tag.
    assert run.status == Run.Status.AWAITING_APPROVAL


def test_a_run_of_a_template_not_read_at_a_tag_has_the_version_its_annotation_gives_and_no_tag(db, queued):
    run = services.run_create(template=_from_git("main"), parameters={}, actor=cast(User, UserFactory()))
    assert (run.template_version, run.template_tag) == ("9.9.9", "")
    assert run.status == Run.Status.OPEN


# --- a worker lost mid-run -------------------------------------------------------------------------------


def _abandoned(**fields: Any) -> tuple[Run, Step, Step, Step]:
    run = RunFactory(
        status=Run.Status.PROCESSING,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - services.RUN_STALE_AFTER - timedelta(seconds=1),
        **fields,
    )
    done = StepFactory(run=run, position=0, status=Step.Status.COMPLETED, output={"remoteUrl": "/r.git"})
    busy = StepFactory(run=run, position=1, status=Step.Status.PROCESSING, started_at=timezone.now())
    later = StepFactory(run=run, position=2)
    return cast(Run, run), cast(Step, done), cast(Step, busy), cast(Step, later)


def test_a_processing_run_whose_worker_was_lost_is_reopened_from_the_step_it_was_in(db, queued):
    run, done, busy, later = _abandoned()
    assert services.runs_resume_abandoned() == [str(run.pk)]
    run.refresh_from_db()
    for step in (done, busy, later):
        step.refresh_from_db()
    assert run.status == Run.Status.OPEN
    assert (done.status, done.output) == ("completed", {"remoteUrl": "/r.git"})
    assert (busy.status, busy.started_at, later.status) == ("pending", None, "pending")
    assert queued == [str(run.pk)]
    assert Event.objects.filter(run=run, body__contains="lost; resuming from step step-1").exists()
    assert AuditEvent.objects.filter(action="scaffolder.run.resume", target_id=str(run.pk)).exists()
    # Idempotent: the run is open now, nothing more to do.
    assert services.runs_resume_abandoned() == []
    assert queued == [str(run.pk)]


def test_a_run_whose_worker_is_alive_or_that_is_not_processing_is_left_alone(db, queued):
    alive = RunFactory(status=Run.Status.PROCESSING, started_at=timezone.now(), heartbeat_at=timezone.now())
    old = timezone.now() - timedelta(days=3)
    for status in (Run.Status.OPEN, Run.Status.AWAITING_APPROVAL):
        RunFactory(status=status, heartbeat_at=old)
    RunFactory(status=Run.Status.FAILED, heartbeat_at=old, finished_at=old)
    assert services.runs_resume_abandoned() == []
    assert services.run_resume_abandoned(run_id=str(alive.pk)) is None
    assert services.run_resume_abandoned(run_id="6a0c1c1e-0000-4000-8000-000000000000") is None
    assert queued == []


def test_a_lost_run_without_any_heartbeat_is_resumed_once_it_started_long_enough_ago(db, queued):
    run = RunFactory(status=Run.Status.PROCESSING, heartbeat_at=None, started_at=timezone.now() - timedelta(hours=2))
    assert services.runs_resume_abandoned() == [str(run.pk)]


def test_a_lost_run_asked_to_cancel_ends_cancelled_instead(db, queued, var_dir):
    run, _, busy, _ = _abandoned(cancel_requested=True)
    folder = _files_of(run)
    services.runs_resume_abandoned()
    run.refresh_from_db()
    busy.refresh_from_db()
    assert (run.status, busy.status, run.cancel_requested) == ("cancelled", "cancelled", False)
    assert queued == []
    assert folder.exists()  # removed once the transaction commits, not before


def test_resume_abandoned_is_a_periodic_job(settings):
    assert any(entry["task"] == jobs.RUNS_RESUME_ABANDONED for entry in settings.CELERY_BEAT_SCHEDULE.values())


# --- run files -------------------------------------------------------------------------------------------


def _finished(status: str, *, dry_run: bool = False, ago: timedelta = timedelta(0)) -> Run:
    return cast(Run, RunFactory(status=status, dry_run=dry_run, finished_at=timezone.now() - ago))


@pytest.mark.parametrize("status", [Run.Status.COMPLETED, Run.Status.CANCELLED])
def test_a_completed_or_cancelled_run_loses_its_folder(db, var_dir, status):
    run = _finished(status)
    folder = _files_of(run)
    assert services.run_files_remove(run=run)
    assert not folder.exists()
    assert not services.run_files_remove(run=run)


def test_a_failed_run_keeps_its_files_for_a_retry(db, var_dir):
    run = _finished(Run.Status.FAILED)
    folder = _files_of(run)
    assert not services.run_files_remove(run=run)
    assert (folder / "workspace" / "README.md").is_file()


def test_a_finished_dry_run_keeps_its_workspace_for_its_page_and_loses_the_template(db, var_dir):
    run = _finished(Run.Status.COMPLETED, dry_run=True)
    folder = _files_of(run)
    assert services.run_files_remove(run=run)
    assert (folder / "workspace" / "README.md").is_file()
    assert not (folder / "template").exists()


def test_an_unfinished_run_keeps_its_files(db, var_dir):
    run = RunFactory(status=Run.Status.PROCESSING)
    folder = _files_of(run)
    assert not services.run_files_remove(run=run)
    assert folder.exists()


def test_cancel_and_reject_remove_the_folder_once_committed(org, queued, var_dir, django_capture_on_commit_callbacks):
    waiting = _waiting("alice")
    open_run = RunFactory(status=Run.Status.OPEN)
    folders = [_files_of(waiting), _files_of(open_run)]
    with django_capture_on_commit_callbacks(execute=True):
        services.run_reject(run=waiting, actor=UserFactory(username="bob"), comment="no")
        services.run_cancel(run=open_run, actor=open_run.created_by)
    assert [folder.exists() for folder in folders] == [False, False]


def _age(folder: Path, ago: timedelta) -> None:
    when = (timezone.now() - ago).timestamp()
    os.utime(folder, (when, when))


def test_the_sweep_removes_what_is_left_a_day_after_and_keeps_what_may_still_be_needed(db, var_dir):
    day = services.RUN_FILES_KEPT_FOR
    old_failed = _files_of(_finished(Run.Status.FAILED, ago=day + timedelta(minutes=1)))
    old_dry = _files_of(_finished(Run.Status.COMPLETED, dry_run=True, ago=day + timedelta(minutes=1)))
    recent_failed = _files_of(_finished(Run.Status.FAILED, ago=day - timedelta(minutes=5)))
    processing = _files_of(RunFactory(status=Run.Status.PROCESSING))
    waiting = _files_of(RunFactory(status=Run.Status.AWAITING_APPROVAL))
    _age(processing, timedelta(days=30))
    _age(waiting, timedelta(days=30))
    root = services.runs_root()
    gone_old = root / "0b5c8f57-1d7a-4a43-9e1a-8f3cba1f0a11"
    gone_new = root / "1b5c8f57-1d7a-4a43-9e1a-8f3cba1f0a11"
    stray_old = root / "not-a-run"
    for folder in (gone_old, gone_new, stray_old):
        (folder / "workspace").mkdir(parents=True)
    _age(gone_old, timedelta(days=2))
    _age(stray_old, timedelta(days=2))
    outside = var_dir / "precious"
    outside.mkdir()
    link = root / "link-out"
    link.symlink_to(outside)
    os.utime(link, (0, 0), follow_symlinks=False)

    removed = services.run_files_sweep()

    assert sorted(removed) == sorted([old_failed.name, old_dry.name, gone_old.name, stray_old.name, "link-out"])
    assert [f.exists() for f in (recent_failed, processing, waiting, gone_new)] == [True] * 4
    assert outside.is_dir()  # a link in the runs folder is removed, never followed
    assert services.run_files_sweep() == []


def test_the_sweep_without_a_runs_folder_does_nothing(db, var_dir):
    assert services.run_files_sweep() == []


def test_the_sweep_is_a_periodic_job(settings):
    assert any(entry["task"] == jobs.RUN_FILES_SWEEP for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_the_periodic_tasks_call_the_services(db, queued, var_dir):
    run = _abandoned()[0]
    old = _files_of(_finished(Run.Status.FAILED, ago=services.RUN_FILES_KEPT_FOR + timedelta(minutes=1)))
    tasks.runs_resume_abandoned.delay()
    tasks.run_files_sweep.delay()
    run.refresh_from_db()
    assert (run.status, queued) == (Run.Status.OPEN, [str(run.pk)])
    assert not old.exists()
