"""Scaffolder tables: the database keeps steps and approvals unique per run and statuses within their choices."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from scaffolder.models import Approval, Event, Run, Step
from tests.scaffolder.factories import ApprovalFactory, EventFactory, RunFactory, StepFactory

pytestmark = pytest.mark.django_db


def test_steps_are_unique_per_run_by_position_and_id():
    step = StepFactory(position=0, step_id="a")
    with pytest.raises(IntegrityError, match=r"scaffolder_step_unique_position|UNIQUE"), transaction.atomic():
        Step.objects.create(run=step.run, position=0, step_id="b", action="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.create(run=step.run, position=1, step_id="a", action="x")
    Step.objects.create(run=RunFactory(), position=0, step_id="a", action="x")  # another run may


def test_statuses_stay_within_their_choices():
    run = RunFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=run.pk).update(status="lost")
    step = StepFactory(run=run)
    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.filter(pk=step.pk).update(status="lost")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(run=run, type="shout")


def test_only_a_finished_run_has_a_finish_time():
    run = RunFactory(status=Run.Status.PROCESSING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, finished_at=timezone.now())


def test_an_approval_is_decided_with_a_time_and_once_per_guard_rail():
    approval = ApprovalFactory(position=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.filter(pk=approval.pk).update(decision="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.filter(pk=approval.pk).update(decision="maybe", decided_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalFactory(run=approval.run, position=0)
    assert approval.requested_by_id == approval.run.created_by_id
    assert approval.is_pending


def test_the_run_log_is_read_in_order():
    run = RunFactory()
    first, second = EventFactory(run=run, body="one"), EventFactory(run=run, body="two")
    assert list(Event.objects.filter(run=run)) == [first, second]
    assert run.requested_by_id == run.created_by_id


def test_the_admin_shows_runs_read_only(admin_client):
    step = StepFactory()
    EventFactory(run=step.run)
    assert admin_client.get("/admin/scaffolder/run/").status_code == 200
    assert admin_client.get(f"/admin/scaffolder/run/{step.run.pk}/change/").status_code == 200
    assert admin_client.get("/admin/scaffolder/event/").status_code == 200
    assert admin_client.get("/admin/scaffolder/run/add/").status_code == 403
