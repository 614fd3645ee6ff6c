"""Executing runs: steps in order through their actions, rendered inputs, `if`, `each`, failures, cancel, and
idempotency (a second worker, a retry after a crash)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from scaffolder import jobs, runner, services
from scaffolder.actions.base import ActionContext, ActionError
from scaffolder.models import Event, Run, Step
from tests.portal.factories import UserFactory
from tests.scaffolder.factories import template_data


class Killed(BaseException):
    """The worker dies in the middle of a step: nothing of the runner's error handling runs."""


class FakeAction:
    """An action that records its calls and answers with what `answer` makes of the input."""

    description = "test"
    output_schema: dict[str, Any] = {"type": "object"}

    def __init__(self, action_id: str, answer: Callable[[ActionContext], dict[str, Any]] | None = None) -> None:
        self.id = action_id
        self.input_schema: dict[str, Any] = {"type": "object"}
        self.answer = answer or (lambda ctx: dict(ctx.input))
        self.calls: list[ActionContext] = []

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        self.calls.append(ctx)
        ctx.log(f"{self.id} ran")
        return self.answer(ctx)


@pytest.fixture
def actions(monkeypatch, settings, tmp_path) -> dict[str, FakeAction]:
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(jobs, "run_execute_enqueue", lambda *, run_id: None)
    registry: dict[str, FakeAction] = {"test:echo": FakeAction("test:echo")}

    def get(action_id: str) -> FakeAction:
        if action_id not in registry:
            raise ActionError("unknown", f"unknown action {action_id!r}")
        return registry[action_id]

    monkeypatch.setattr(runner, "action_get", get)
    return registry


def _run(steps: list[dict[str, Any]], parameters: dict[str, Any] | None = None, **kwargs: Any) -> Run:
    return services.run_create(
        template=template_data(steps=steps, **kwargs),
        parameters=parameters or {},
        actor=cast(User, UserFactory(username="carol")),
    )


def _statuses(run: Run) -> list[tuple[str, str]]:
    return list(run.steps.order_by("position").values_list("step_id", "status"))


def test_steps_run_in_order_with_rendered_inputs_and_the_output_is_rendered(db, actions):
    run = _run(
        [
            {"id": "a", "action": "test:echo", "input": {"x": "${{ parameters.name }}-repo"}},
            {"id": "b", "action": "test:echo", "input": {"y": "${{ steps['a'].output.x }}", "n": 2}},
        ],
        {"name": "svc"},
        output={"links": [{"title": "Repo", "url": "https://git.example.com/${{ steps['b'].output.y }}"}]},
    )
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.finished_at is not None
    assert run.output == {"links": [{"title": "Repo", "url": "https://git.example.com/svc-repo"}]}
    assert [ctx.input for ctx in actions["test:echo"].calls] == [{"x": "svc-repo"}, {"y": "svc-repo", "n": 2}]
    ctx = actions["test:echo"].calls[0]
    assert ctx.workspace == runner.workspace_path(run_id=str(run.pk))
    assert ctx.workspace.is_dir()
    assert (ctx.run_id, ctx.step_id, ctx.user_email, ctx.dry_run) == (str(run.pk), "a", "carol@example.com", False)
    b = run.steps.get(step_id="b")
    assert (b.input, b.output, b.status) == ({"y": "svc-repo", "n": 2}, {"y": "svc-repo", "n": 2}, "completed")
    bodies = list(Event.objects.filter(run=run).values_list("type", "body"))
    assert ("log", "test:echo ran") in bodies
    assert bodies[-1] == ("completion", "Run completed")


def test_a_step_whose_if_is_false_is_skipped(db, actions):
    run = _run(
        [
            {"id": "a", "action": "test:echo", "if": "${{ parameters.publish }}", "input": {}},
            {"id": "b", "action": "test:echo", "input": {}},
        ],
        {"publish": False},
    )
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert _statuses(run) == [("a", "skipped"), ("b", "completed")]
    assert len(actions["test:echo"].calls) == 1
    assert run.status == Run.Status.COMPLETED


def test_each_runs_the_action_once_per_item_and_gathers_the_outputs(db, actions):
    run = _run(
        [{"id": "a", "action": "test:echo", "each": "${{ parameters.names }}", "input": {"n": "${{ each.value }}"}}],
        {"names": ["x", "y"]},
    )
    runner.run_execute(run_id=str(run.pk))
    step = run.steps.get()
    assert step.status == Step.Status.COMPLETED
    assert step.input == [{"n": "x"}, {"n": "y"}]
    assert step.output == {"n": ["x", "y"]}


def test_a_failing_action_fails_its_step_and_the_run_with_an_event(db, actions):
    def refuse(ctx: ActionContext) -> dict[str, Any]:
        raise ActionError("publish", "the repository exists already")

    actions["test:fail"] = FakeAction("test:fail", refuse)
    run = _run(
        [
            {"id": "a", "action": "test:echo", "input": {}},
            {"id": "b", "action": "test:fail", "input": {}},
            {"id": "c", "action": "test:echo", "input": {}},
        ]
    )
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "the repository exists already" in run.error
    assert "b" in run.error
    assert _statuses(run) == [("a", "completed"), ("b", "failed"), ("c", "pending")]
    assert Event.objects.filter(run=run, step__step_id="b", type=Event.Type.ERROR).exists()
    assert Event.objects.filter(run=run, type=Event.Type.COMPLETION, body__startswith="Run failed").exists()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "a", "action": "test:nope", "input": {}}, "unknown action"),
        ({"id": "a", "action": "test:echo", "input": {"x": "${{ parameters.x + }}"}}, "steps[0].input"),
    ],
)
def test_unknown_actions_and_bad_expressions_fail_the_run(db, actions, step, message):
    run = _run([step])
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert message in run.error
    assert actions["test:echo"].calls == []


def test_an_input_refused_by_the_schema_fails_the_run(db, actions):
    actions["test:strict"] = FakeAction("test:strict")
    actions["test:strict"].input_schema = {"type": "object", "required": ["name"]}
    run = _run([{"id": "a", "action": "test:strict", "input": {}}])
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "name" in run.error
    assert actions["test:strict"].calls == []


def test_a_second_execution_runs_nothing_again(db, actions):
    run = _run([{"id": "a", "action": "test:echo", "input": {}}, {"id": "b", "action": "test:echo", "input": {}}])
    runner.run_execute(run_id=str(run.pk))
    runner.run_execute(run_id=str(run.pk))
    assert len(actions["test:echo"].calls) == 2
    Run.objects.filter(pk=run.pk).update(status=Run.Status.PROCESSING, finished_at=None)  # another worker has it
    runner.run_execute(run_id=str(run.pk))
    assert len(actions["test:echo"].calls) == 2
    runner.run_execute(run_id="6a0c1c1e-0000-4000-8000-000000000000")  # a deleted run: nothing


def test_a_run_killed_after_two_steps_is_retried_from_the_third(db, actions):
    state = {"kill": True}

    def third(ctx: ActionContext) -> dict[str, Any]:
        if state["kill"]:
            raise Killed
        return {"done": ctx.input["from"]}

    actions["test:third"] = FakeAction("test:third", third)
    run = _run(
        [
            {"id": "a", "action": "test:echo", "input": {"v": 1}},
            {"id": "b", "action": "test:echo", "input": {"v": "${{ steps.a.output.v + 1 }}"}},
            {"id": "c", "action": "test:third", "input": {"from": "${{ steps.b.output.v }}"}},
            {"id": "d", "action": "test:echo", "input": {"all": "${{ steps.c.output.done }}"}},
        ]
    )
    with pytest.raises(Killed):
        runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.PROCESSING
    assert _statuses(run) == [("a", "completed"), ("b", "completed"), ("c", "processing"), ("d", "pending")]
    (runner.workspace_path(run_id=str(run.pk)) / "kept.txt").write_text("from the first attempt")

    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    state["kill"] = False
    services.run_retry(run=run, actor=run.created_by)
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert [ctx.step_id for ctx in actions["test:echo"].calls] == ["a", "b", "d"]
    assert [ctx.input for ctx in actions["test:third"].calls] == [{"from": 2}, {"from": 2}]
    assert run.steps.get(step_id="d").output == {"all": 2}
    assert (runner.workspace_path(run_id=str(run.pk)) / "kept.txt").exists()  # a retry reuses the workspace


def test_a_failed_run_retried_runs_only_the_failed_step_and_later(db, actions):
    state = {"fail": True}

    def flaky(ctx: ActionContext) -> dict[str, Any]:
        if state["fail"]:
            raise ActionError("publish", "host down")
        return {"url": "https://git.example.com/x"}

    actions["test:flaky"] = FakeAction("test:flaky", flaky)
    run = _run(
        [
            {"id": "a", "action": "test:echo", "input": {"v": 1}},
            {"id": "publish", "action": "test:flaky", "input": {"v": "${{ steps.a.output.v }}"}},
        ],
        output={"links": [{"url": "${{ steps.publish.output.url }}"}]},
    )
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    state["fail"] = False
    services.run_retry(run=run, actor=run.created_by)
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert len(actions["test:echo"].calls) == 1
    assert run.output == {"links": [{"url": "https://git.example.com/x"}]}
    assert Event.objects.filter(run=run, body="Run resumed").exists()


def test_a_cancel_asked_while_processing_stops_before_the_next_step(db, actions):
    def ask_to_cancel(ctx: ActionContext) -> dict[str, Any]:
        run = Run.objects.get(pk=ctx.run_id)
        services.run_cancel(run=run, actor=run.created_by)
        return {}

    actions["test:cancel"] = FakeAction("test:cancel", ask_to_cancel)
    run = _run([{"id": "a", "action": "test:cancel", "input": {}}, {"id": "b", "action": "test:echo", "input": {}}])
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert not run.cancel_requested
    assert _statuses(run) == [("a", "completed"), ("b", "cancelled")]
    assert actions["test:echo"].calls == []


def test_a_dry_run_tells_the_actions(db, actions):
    run = services.run_create(
        template=template_data(steps=[{"id": "a", "action": "test:echo", "input": {}}]),
        parameters={},
        actor=cast(User, UserFactory(username="carol")),
        dry_run=True,
    )
    runner.run_execute(run_id=str(run.pk))
    assert actions["test:echo"].calls[0].dry_run is True


def test_a_run_awaiting_approval_is_not_executed(db, actions):
    run = _run(
        [{"id": "a", "action": "test:echo", "input": {}}],
        guardrails=[{"if": True, "approvers": "group:default/platform", "reason": "always"}],
    )
    runner.run_execute(run_id=str(run.pk))
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL
    assert actions["test:echo"].calls == []


def test_expressions_see_the_template_the_run_began_with(db, actions):
    template = template_data(
        steps=[
            {
                "id": "a",
                "action": "test:echo",
                "input": {
                    "version": "${{ template.version }}",
                    "tag": "${{ template.tag }}",
                    "ref": "${{ template.entityRef }}",
                },
            }
        ]
    )
    template["metadata"]["annotations"]["paved.dev/template-version"] = "2.0.0"
    run = services.run_create(template=template, parameters={}, actor=cast(User, UserFactory(username="carol")))
    Run.objects.filter(pk=run.pk).update(template_tag="v2.0.0")
    runner.run_execute(run_id=str(run.pk))
    assert run.steps.get().output == {"version": "2.0.0", "tag": "v2.0.0", "ref": "template:default/service"}


def test_a_run_whose_worker_was_killed_is_resumed_by_the_beat_job_and_runs_the_interrupted_step_again(db, actions):
    state = {"kill": True}

    def second(ctx: ActionContext) -> dict[str, Any]:
        if state["kill"]:
            raise Killed
        return {"done": True}

    actions["test:second"] = FakeAction("test:second", second)
    run = _run(
        [
            {"id": "a", "action": "test:echo", "input": {"v": 1}},
            {"id": "b", "action": "test:second", "input": {}},
            {"id": "c", "action": "test:echo", "input": {"v": "${{ steps.a.output.v }}"}},
        ]
    )
    with pytest.raises(Killed):
        runner.run_execute(run_id=str(run.pk))
    # A second delivery of the task while the run still looks alive changes nothing.
    runner.run_execute(run_id=str(run.pk))
    assert services.runs_resume_abandoned() == []
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - services.RUN_STALE_AFTER - timedelta(seconds=1))
    state["kill"] = False

    assert services.runs_resume_abandoned() == [str(run.pk)]
    runner.run_execute(run_id=str(run.pk))

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert [ctx.step_id for ctx in actions["test:echo"].calls] == ["a", "c"]
    assert len(actions["test:second"].calls) == 2
    assert Event.objects.filter(run=run, body="Run resumed").exists()


def test_a_completed_run_loses_its_folder_once_it_ends_and_a_failed_one_keeps_it(
    db, actions, django_capture_on_commit_callbacks
):
    actions["test:fail"] = FakeAction("test:fail", lambda ctx: (_ for _ in ()).throw(ActionError("x", "broken")))
    done = _run([{"id": "a", "action": "test:echo", "input": {}}])
    failed = _run([{"id": "a", "action": "test:fail", "input": {}}])
    with django_capture_on_commit_callbacks(execute=True):
        runner.run_execute(run_id=str(done.pk))
        runner.run_execute(run_id=str(failed.pk))
    assert Run.objects.get(pk=failed.pk).status == Run.Status.FAILED
    assert not runner.workspace_path(run_id=str(done.pk)).parent.exists()
    assert runner.workspace_path(run_id=str(failed.pk)).is_dir()
