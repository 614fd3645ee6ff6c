"""Scaffolder run services: create with guard rails, approve, reject, cancel, retry, fail, and the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from portal.exceptions import ApplicationError, ConflictError, ForbiddenError
from portal.models import AuditEvent
from portal.permissions import Action, NotPermitted, may
from scaffolder import jobs, services
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


def test_retry_resets_the_failed_step_and_later_and_keeps_completed_outputs(db, queued):
    run = RunFactory(status=Run.Status.FAILED, error="boom", finished_at=timezone.now())
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
