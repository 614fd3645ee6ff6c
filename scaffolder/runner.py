"""Executing a scaffolder run, in the worker: its pending steps in order, each through its action.

Idempotent. The run row is claimed with `select_for_update` (open → processing), so a second worker sees it taken
or finished and returns. A completed or skipped step is never run again: its output is kept and feeds later
expressions, so a run retried after a crash goes on from where it stopped and never publishes twice (the publish
step is either completed with its output stored, or run again, and publishers are idempotent per run id).

Actions run outside of database transactions; every change of state is a short transaction of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from catalog import selectors as catalog_selectors
from scaffolder import services
from scaffolder.actions.base import ActionContext, ActionError, ActionSettings
from scaffolder.actions.registry import action_get, validate_input
from scaffolder.expressions import ExpressionContext, ExpressionError, condition_true, expand_each, render_value
from scaffolder.models import Event, Run, Step
from scaffolder.publishers import ScmIntegration
from scaffolder.sources import TemplateSourceError, template_files, template_origin

log = structlog.get_logger(__name__)

MAX_ERROR: Final = 2000


def workspace_path(*, run_id: str) -> Path:
    """Where a run's files are made: `$PAVED_VAR_DIR/scaffolder/runs/<run id>/workspace`."""
    return services.run_workspace(run_id=run_id)


def _action_settings() -> ActionSettings:
    root = getattr(settings, "PAVED_SCAFFOLDER_REPOS_ROOT", None) or Path(settings.VAR_DIR) / "repos"
    kwargs: dict[str, Any] = {"repos_root": Path(root)}
    max_bytes = getattr(settings, "PAVED_SCAFFOLDER_MAX_BYTES", None)
    max_files = getattr(settings, "PAVED_SCAFFOLDER_MAX_FILES", None)
    if max_bytes:
        kwargs["max_bytes"] = int(max_bytes)
    if max_files:
        kwargs["max_files"] = int(max_files)
    kwargs["scm_integrations"] = tuple(
        ScmIntegration(
            kind=entry["kind"],
            host=entry["host"],
            api_url=entry["api_url"],
            token=entry.get("token") or "",
            token_setting=entry.get("token_setting") or "",
        )
        for entry in getattr(settings, "PAVED_SCM_INTEGRATIONS", ())
    )
    http_timeout = getattr(settings, "PAVED_SCM_TIMEOUT_SECONDS", None)
    if http_timeout:
        kwargs["http_timeout"] = int(http_timeout)
    return ActionSettings(**kwargs)


def _claim(run_id: str) -> Run | None:
    """Move the run from open to processing; None when another worker has it or it is not open."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != Run.Status.OPEN:
            return None
        first_time = run.started_at is None
        now = timezone.now()
        run.status = Run.Status.PROCESSING
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.save(update_fields=["status", "started_at", "heartbeat_at"])
        services.event_append(run=run, type=Event.Type.STATUS, body="Run started" if first_time else "Run resumed")
    workspace = workspace_path(run_id=str(run.pk))
    if first_time and workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    return run


def _cancel_requested(run: Run) -> bool:
    return Run.objects.filter(pk=run.pk, cancel_requested=True).exists()


def _context(run: Run) -> ExpressionContext:
    user_entity = None
    creator = run.created_by
    if isinstance(creator, User):
        entity = catalog_selectors.user_entity_get(user=creator)
        user_entity = entity.data if entity is not None else None
    outputs = {
        step.step_id: step.output for step in run.steps.filter(status=Step.Status.COMPLETED).order_by("position")
    }
    return ExpressionContext(
        parameters=run.parameters,
        step_outputs=outputs,
        user_entity=user_entity,
        user_ref=run.user_ref or None,
        template={"entityRef": run.template_ref, "version": run.template_version, "tag": run.template_tag},
    )


def _set_step(step: Step, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(step, name, value)
    step.save(update_fields=list(fields))


def _collect(outputs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The output of a step run for each item: every key gathers the items' values in a list (Backstage's way)."""
    collected: dict[str, list[Any]] = {}
    for output in outputs:
        for key, value in output.items():
            collected.setdefault(key, []).append(value)
    return dict(collected)


class _StepFailed(Exception):
    pass


def _run_step(run: Run, step: Step, context: ExpressionContext) -> dict[str, Any] | None:
    """Run one step; its output, or None when its `if` is false. Raises _StepFailed with a readable message."""
    where = f"steps[{step.position}]"
    definition = step.definition
    try:
        if "if" in definition and not condition_true(definition["if"], context=context, path=f"{where}.if"):
            return None
        contexts = expand_each(definition, context=context, path=where)
        inputs = [render_value(definition.get("input") or {}, context=each, path=f"{where}.input") for each in contexts]
    except ExpressionError as error:
        raise _StepFailed(f"Step {step.step_id}: {error}") from None
    try:
        action = action_get(step.action)
        for value in inputs:
            if not isinstance(value, Mapping):
                raise ActionError("input", f"{step.action}: input must be an object")
            validate_input(action, value)
    except ActionError as error:
        raise _StepFailed(f"Step {step.step_id}: {error.message}") from None
    _set_step(step, input=inputs if "each" in definition else (inputs[0] if inputs else {}))

    def step_log(message: str) -> None:
        services.event_append(run=run, step=step, type=Event.Type.LOG, body=str(message))

    creator = run.created_by
    try:
        template_dir = template_files(source=run.template_dir, run_dir=workspace_path(run_id=str(run.pk)).parent)
    except TemplateSourceError as error:
        raise _StepFailed(f"Step {step.step_id}: the template's files cannot be read: {error}") from None
    origin, origin_ref, origin_path = template_origin(run.template_dir)
    outputs: list[Mapping[str, Any]] = []
    for value in inputs:
        ctx = ActionContext(
            run_id=str(run.pk),
            step_id=step.step_id,
            workspace=workspace_path(run_id=str(run.pk)),
            input=value,
            template_dir=template_dir,
            user_ref=run.user_ref or None,
            user_name=(creator.get_full_name() or creator.get_username()) if isinstance(creator, User) else "",
            user_email=creator.email if isinstance(creator, User) else "",
            dry_run=run.dry_run,
            log=step_log,
            settings=_action_settings(),
            template_origin=origin,
            template_origin_ref=origin_ref,
            template_origin_path=origin_path,
        )
        try:
            output = action.run(ctx)
        except ActionError as error:
            raise _StepFailed(f"Step {step.step_id} ({step.action}): {error.message}") from None
        outputs.append(dict(output or {}))
    if "each" in definition:
        return _collect(outputs)
    return dict(outputs[0]) if outputs else {}


def _finish(run: Run, status: str, error: str = "", output: Mapping[str, Any] | None = None) -> None:
    with transaction.atomic():
        run.status = status
        run.error = error[:MAX_ERROR]
        run.finished_at = timezone.now()
        run.cancel_requested = False
        fields = ["status", "error", "finished_at", "cancel_requested"]
        if output is not None:
            run.output = dict(output)
            fields.append("output")
        run.save(update_fields=fields)
        body = {
            Run.Status.COMPLETED: "Run completed",
            Run.Status.FAILED: f"Run failed: {error}",
            Run.Status.CANCELLED: "Run cancelled",
        }[Run.Status(status)]
        services.event_append(run=run, type=Event.Type.COMPLETION, body=body)
        services.run_files_remove_on_commit(run=run)


def _cancel_rest(run: Run) -> None:
    with transaction.atomic():
        run.steps.filter(status=Step.Status.PENDING).update(status=Step.Status.CANCELLED, finished_at=timezone.now())
    _finish(run, Run.Status.CANCELLED, error="Cancelled before the next step")


def run_execute(*, run_id: str) -> None:
    """Execute an open run: claim it, run its pending steps in order, render its output. Safe to call twice."""
    run = _claim(run_id)
    if run is None:
        log.info("scaffolder.run.not_claimed", run_id=run_id)
        return
    structlog.contextvars.bind_contextvars(run_id=str(run.pk))
    try:
        _execute(run)
    finally:
        structlog.contextvars.unbind_contextvars("run_id")


def _execute(run: Run) -> None:
    context = _context(run)
    for step in list(run.steps.filter(status=Step.Status.PENDING).order_by("position")):
        if _cancel_requested(run):
            _cancel_rest(run)
            return
        now = timezone.now()
        with transaction.atomic():
            Run.objects.filter(pk=run.pk).update(heartbeat_at=now)
            _set_step(step, status=Step.Status.PROCESSING, started_at=now, error="")
            services.event_append(
                run=run, step=step, type=Event.Type.STATUS, body=f"Step {step.step_id} ({step.action}) started"
            )
        try:
            output = _run_step(run, step, context)
        except _StepFailed as failure:
            message = str(failure)
            with transaction.atomic():
                _set_step(step, status=Step.Status.FAILED, error=message, finished_at=timezone.now())
                services.event_append(run=run, step=step, type=Event.Type.ERROR, body=message)
            _finish(run, Run.Status.FAILED, error=message)
            return
        with transaction.atomic():
            if output is None:
                _set_step(step, status=Step.Status.SKIPPED, finished_at=timezone.now())
                services.event_append(
                    run=run, step=step, type=Event.Type.STATUS, body=f"Step {step.step_id} skipped: its if is false"
                )
                continue
            _set_step(step, status=Step.Status.COMPLETED, output=output, finished_at=timezone.now())
            services.event_append(run=run, step=step, type=Event.Type.STATUS, body=f"Step {step.step_id} completed")
        context = context.with_step_output(step.step_id, output)
    try:
        output = render_value(run.spec.get("output") or {}, context=context, path="spec.output")
    except ExpressionError as error:
        _finish(run, Run.Status.FAILED, error=f"The template's output: {error}")
        return
    _finish(run, Run.Status.COMPLETED, output=output if isinstance(output, Mapping) else {})
