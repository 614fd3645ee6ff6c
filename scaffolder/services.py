"""Scaffolder runs: create from a Template entity, approve or reject what crossed a guard rail, cancel, retry, fail.

Each service is one transaction; execution is enqueued through `scaffolder.jobs` once it commits, and the worker
runs it in `scaffolder.runner`. Every decision a person takes on a run is recorded in the audit log.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog import selectors as catalog_selectors
from catalog.descriptors.refs import RefError, parse_ref
from portal.exceptions import ApplicationError, ConflictError, ForbiddenError
from portal.permissions import SYSTEM, Action, Actor, SystemActor, is_admin, is_member, may, require
from portal.services import audit_record
from scaffolder import jobs
from scaffolder.expressions import ExpressionContext, ExpressionError, condition_true
from scaffolder.models import Approval, Event, Run, Step
from scaffolder.sources import template_source, template_tag, version_of_tag

log = structlog.get_logger(__name__)

# A processing run whose worker gave no sign of life for this long is taken to be lost (the worker was killed).
RUN_STALE_AFTER: Final = timedelta(minutes=30)
# How long the files of a run that may still be retried (a failed one) or shown (a dry run) are kept.
RUN_FILES_KEPT_FOR: Final = timedelta(days=1)
RESUME_BATCH: Final = 100
MAX_EVENT_BODY: Final = 10_000


def _template_ref(template: Mapping[str, Any]) -> str:
    metadata = template.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    return f"template:{namespace}/{metadata.get('name', '')}".lower()


MAX_APPROVERS: Final = 20
MAX_APPROVER_REF: Final = 512


def _approver_refs(value: Any, position: int) -> list[str]:
    """A guard rail's `approvers` as complete refs (`group:platform` → `group:default/platform`), in order, without
    repeats. One ref or a list of them: with a list, a member of any one of the listed groups (or the listed user)
    may approve that guard rail, and one approval settles it (Backstage-style "one of"); a guard rail that needs two
    teams to agree is written as two guard rails."""
    where = f"spec.guardrails[{position}].approvers"
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_APPROVERS:
        raise ApplicationError(f"{where}: expected a ref or a list of 1 to {MAX_APPROVERS} refs, got {len(values)}")
    refs: list[str] = []
    for index, item in enumerate(values):
        path = f"{where}[{index}]" if isinstance(value, list) else where
        if not isinstance(item, str):
            raise ApplicationError(f"{path}: expected a ref such as group:platform, got {type(item).__name__}")
        try:
            ref = str(parse_ref(item, default_kind="group"))
        except RefError as error:
            raise ApplicationError(f"{path}: {error}") from None
        if len(ref) > MAX_APPROVER_REF:
            raise ApplicationError(f"{path}: a ref of {len(ref)} characters; at most {MAX_APPROVER_REF}")
        if ref not in refs:
            refs.append(ref)
    return refs


@transaction.atomic
def run_create(
    *, template: Mapping[str, Any], parameters: Mapping[str, Any], actor: Actor | None, dry_run: bool = False
) -> Run:
    """Create a run of `template` (a Template entity's data) with its steps, in order.

    Guard rails (`spec.guardrails: [{if, approvers, reason}]`) are evaluated over the parameters: any that holds
    makes the run wait for approval, one Approval per guard rail (any one of its `approvers` may settle it);
    otherwise execution is enqueued on commit. The template's version is recorded from the git tag its files are
    read at (`v1.0.0` → version `1.0.0`, tag `v1.0.0`), else from its `paved.dev/template-version` annotation, and
    expressions see it as `${{ template.version }}` and `${{ template.tag }}`.
    """
    if not isinstance(actor, User) or not actor.is_authenticated:
        raise ForbiddenError("Sign in first: running a template needs a signed-in user.")
    spec = dict(template.get("spec") or {})
    steps = spec.get("steps") or []
    if not isinstance(steps, list):
        raise ApplicationError("The template's spec.steps must be a list.")
    user_entity = catalog_selectors.user_entity_get(user=actor)
    user_ref = user_entity.ref if user_entity is not None else ""
    metadata = template.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    source = template_source(template)
    tag = template_tag(source)
    version = version_of_tag(tag) if tag else str(annotations.get("paved.dev/template-version") or "")
    template_ref = _template_ref(template)
    context = ExpressionContext(
        parameters=dict(parameters),
        user_entity=user_entity.data if user_entity is not None else None,
        user_ref=user_ref or None,
        template={"entityRef": template_ref, "version": version, "tag": tag},
    )
    triggered: list[tuple[int, list[str], str]] = []
    for position, rail in enumerate(spec.get("guardrails") or []):
        if not isinstance(rail, Mapping):
            raise ApplicationError(f"spec.guardrails[{position}] must be an object.")
        try:
            holds = condition_true(rail.get("if", False), context=context, path=f"spec.guardrails[{position}].if")
        except ExpressionError as error:
            raise ApplicationError(f"The template's guard rail could not be evaluated: {error}") from None
        if holds:
            triggered.append((position, _approver_refs(rail.get("approvers"), position), str(rail.get("reason") or "")))
    run = Run.objects.create(
        template_ref=template_ref,
        template_version=version,
        template_tag=tag,
        spec={key: spec[key] for key in ("steps", "output") if key in spec},
        template_dir=source,
        parameters=dict(parameters),
        status=Run.Status.AWAITING_APPROVAL if triggered else Run.Status.OPEN,
        created_by=actor,
        user_ref=user_ref,
        dry_run=dry_run,
    )
    for position, raw in enumerate(steps):
        if not isinstance(raw, Mapping) or not raw.get("action"):
            raise ApplicationError(f"spec.steps[{position}] must be an object with an action.")
        Step.objects.create(
            run=run,
            position=position,
            step_id=str(raw.get("id") or f"step-{position}"),
            name=str(raw.get("name") or raw.get("id") or raw["action"]),
            action=str(raw["action"]),
            definition=dict(raw),
        )
    for position, refs, reason in triggered:
        approval = Approval.objects.create(
            run=run, position=position, approver_ref=refs[0], other_approver_refs=refs[1:], reason=reason
        )
        who = approval.approvers_display
        event_append(run=run, type=Event.Type.STATUS, body=f"Needs approval by {who}: {reason}".strip())
    audit_record(
        actor=actor,
        action="scaffolder.run.create",
        target=run,
        after={"template": run.template_ref, "status": run.status, "dry_run": dry_run},
    )
    if not triggered:
        jobs.run_execute_enqueue(run_id=str(run.pk))
    return run


def _pending_approvals(run: Run) -> list[Approval]:
    if run.status != Run.Status.AWAITING_APPROVAL:
        raise ConflictError(f"The run is {run.get_status_display().lower()}, not awaiting approval.")
    return [approval for approval in run.approvals.select_related("run") if approval.is_pending]


def _decide(*, run: Run, actor: Actor | None, decision: str, comment: str) -> list[Approval]:
    run = Run.objects.select_for_update().get(pk=run.pk)
    pending = _pending_approvals(run)
    mine = [approval for approval in pending if may(actor, Action.SCAFFOLDER_RUN_APPROVE, approval)]
    if not mine:
        require(actor, Action.SCAFFOLDER_RUN_APPROVE, pending[0] if pending else run)
    assert isinstance(actor, User)
    now = timezone.now()
    for approval in mine:
        approval.decision = decision
        approval.decided_by = actor
        approval.comment = comment
        approval.decided_at = now
        approval.save(update_fields=["decision", "decided_by", "comment", "decided_at"])
    return mine


@transaction.atomic
def run_approve(*, run: Run, actor: Actor | None, comment: str = "") -> Run:
    """Approve the guard rails of `run` the actor may approve (an administrator, a member of the approver group;
    never the requester). When none is left pending the run opens and is enqueued."""
    decided = _decide(run=run, actor=actor, decision=Approval.Decision.APPROVED, comment=comment)
    run.refresh_from_db()
    who = actor.get_username() if isinstance(actor, User) else str(actor)
    for approval in decided:
        event_append(run=run, type=Event.Type.STATUS, body=f"Approved by {who} for {approval.approvers_display}")
    if not any(approval.is_pending for approval in run.approvals.all()):
        run.status = Run.Status.OPEN
        run.save(update_fields=["status"])
        jobs.run_execute_enqueue(run_id=str(run.pk))
    audit_record(
        actor=actor,
        action="scaffolder.run.approve",
        target=run,
        after={
            "approvers": [ref for approval in decided for ref in approval.approver_refs],
            "comment": comment,
            "status": run.status,
        },
    )
    return run


@transaction.atomic
def run_reject(*, run: Run, actor: Actor | None, comment: str = "") -> Run:
    """Reject the run (by whoever may approve it): it ends cancelled and nothing of it runs."""
    _decide(run=run, actor=actor, decision=Approval.Decision.REJECTED, comment=comment)
    run.refresh_from_db()
    who = actor.get_username() if isinstance(actor, User) else str(actor)
    reason = f"Rejected by {who}" + (f": {comment}" if comment else "")
    _finish_cancelled(run, reason)
    audit_record(actor=actor, action="scaffolder.run.reject", target=run, after={"comment": comment})
    return run


def _require_requester_or_admin(run: Run, actor: Actor | None, what: str) -> None:
    if isinstance(actor, SystemActor) or is_admin(actor):
        return
    if not is_member(actor):
        raise ForbiddenError("Sign in first: this needs a signed-in user.")
    assert isinstance(actor, User)
    if run.created_by_id is None or run.created_by_id != actor.pk:
        raise ForbiddenError(f"Only whoever asked for the run and administrators may {what} it.")


def _finish_cancelled(run: Run, reason: str) -> None:
    now = timezone.now()
    run.steps.filter(status__in=[Step.Status.PENDING, Step.Status.PROCESSING]).update(
        status=Step.Status.CANCELLED, finished_at=now
    )
    run.status = Run.Status.CANCELLED
    run.error = reason
    run.finished_at = now
    run.cancel_requested = False
    run.save(update_fields=["status", "error", "finished_at", "cancel_requested"])
    event_append(run=run, type=Event.Type.STATUS, body=reason)
    run_files_remove_on_commit(run=run)


def _worker_lost(run: Run) -> bool:
    """A processing run whose worker gave no sign of life for RUN_STALE_AFTER: the worker was killed."""
    return run.heartbeat_at is None or run.heartbeat_at < timezone.now() - RUN_STALE_AFTER


@transaction.atomic
def run_cancel(*, run: Run, actor: Actor | None) -> Run:
    """Cancel the run (its requester or an administrator). One not started yet ends at once; a processing one is
    asked to stop and stops before its next step (one whose worker was lost ends at once)."""
    locked = Run.objects.select_for_update().get(pk=run.pk)
    _require_requester_or_admin(locked, actor, "cancel")
    if locked.is_finished:
        raise ConflictError(f"The run is {locked.get_status_display().lower()} already.")
    who = actor.get_username() if isinstance(actor, User) else str(actor)
    if locked.status == Run.Status.PROCESSING and not _worker_lost(locked):
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested"])
        event_append(run=locked, type=Event.Type.STATUS, body=f"Cancel asked by {who}; stopping before the next step")
    else:
        _finish_cancelled(locked, f"Cancelled by {who}")
    audit_record(actor=actor, action="scaffolder.run.cancel", target=locked, after={"status": locked.status})
    return locked


@transaction.atomic
def run_retry(*, run: Run, actor: Actor | None) -> Run:
    """Run a failed or cancelled run again from its first step that did not finish (its requester or an
    administrator). Completed and skipped steps keep their outputs and are not run again, unless the run's files
    were removed already (see `run_files_remove`): then it runs again from its first step. A processing run whose
    worker was lost (no sign of life for RUN_STALE_AFTER) may be retried too."""
    locked = Run.objects.select_for_update().get(pk=run.pk)
    _require_requester_or_admin(locked, actor, "retry")
    stale = locked.status == Run.Status.PROCESSING and _worker_lost(locked)
    if locked.status not in (Run.Status.FAILED, Run.Status.CANCELLED) and not stale:
        raise ConflictError(f"Only a failed or cancelled run can be retried; this one is {locked.status}.")
    if locked.approvals.filter(decision=Approval.Decision.REJECTED).exists():
        raise ConflictError("A rejected run cannot be retried; run the template again.")
    first = locked.steps.exclude(status__in=[Step.Status.COMPLETED, Step.Status.SKIPPED]).order_by("position").first()
    if not run_workspace(run_id=str(locked.pk)).is_dir():
        # The run's files were removed (its retry window passed, or it was cancelled): every step runs again from
        # the start; publishers and catalog:register find what this run published before, by its run:step key.
        first = locked.steps.order_by("position").first()
    if first is not None:
        locked.steps.filter(position__gte=first.position).update(
            status=Step.Status.PENDING, output={}, error="", started_at=None, finished_at=None
        )
    before = locked.status
    locked.status = Run.Status.OPEN
    locked.error = ""
    locked.finished_at = None
    locked.cancel_requested = False
    locked.save(update_fields=["status", "error", "finished_at", "cancel_requested"])
    who = actor.get_username() if isinstance(actor, User) else str(actor)
    where = f"from step {first.step_id}" if first is not None else "(no step left to run)"
    event_append(run=locked, type=Event.Type.STATUS, body=f"Retried by {who} {where}")
    audit_record(actor=actor, action="scaffolder.run.retry", target=locked, before={"status": before})
    jobs.run_execute_enqueue(run_id=str(locked.pk))
    return locked


@transaction.atomic
def run_fail(*, run_id: str, error: str) -> Run | None:
    """Record that executing the run broke down outside of a step's own error handling (the task's on_failure):
    the step in progress and the run fail with `error`. A finished or missing run is left alone."""
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.is_finished:
        return run
    now = timezone.now()
    message = error or "The run failed"
    for step in run.steps.filter(status=Step.Status.PROCESSING):
        step.status = Step.Status.FAILED
        step.error = message
        step.finished_at = now
        step.save(update_fields=["status", "error", "finished_at"])
        event_append(run=run, step=step, type=Event.Type.ERROR, body=message)
    run.status = Run.Status.FAILED
    run.error = message
    run.finished_at = now
    run.save(update_fields=["status", "error", "finished_at"])
    event_append(run=run, type=Event.Type.COMPLETION, body=f"Run failed: {message}")
    log.warning("scaffolder.run.failed", run_id=str(run.pk), error=message)
    return run


def runs_resume_abandoned() -> list[str]:
    """Reopen every processing run whose worker gave no sign of life for RUN_STALE_AFTER (the beat job): see
    `run_resume_abandoned`. The ids of the runs resumed, at most RESUME_BATCH a call."""
    limit = timezone.now() - RUN_STALE_AFTER
    stale = Run.objects.filter(status=Run.Status.PROCESSING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
    )
    ids = [str(run_id) for run_id in stale.order_by("heartbeat_at").values_list("pk", flat=True)[:RESUME_BATCH]]
    return [run_id for run_id in ids if run_resume_abandoned(run_id=run_id) is not None]


@transaction.atomic
def run_resume_abandoned(*, run_id: str) -> Run | None:
    """Reopen a processing run whose worker was lost (killed mid-step: its heartbeat is older than RUN_STALE_AFTER)
    and enqueue it: the step it was in runs again (publishers and catalog:register are idempotent per run and step,
    so nothing is published twice), completed steps keep their outputs. One asked to cancel ends cancelled instead.
    Idempotent: a run that is not processing, or whose worker is alive, is left alone (None)."""
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != Run.Status.PROCESSING or not _worker_lost(run):
        return None
    if run.cancel_requested:
        _finish_cancelled(run, "Cancelled: the worker running it was lost before it could stop")
        return run
    interrupted = run.steps.filter(status=Step.Status.PROCESSING).order_by("position").first()
    run.steps.filter(status=Step.Status.PROCESSING).update(
        status=Step.Status.PENDING, output={}, error="", started_at=None, finished_at=None
    )
    run.status = Run.Status.OPEN
    run.save(update_fields=["status"])
    where = f"step {interrupted.step_id}" if interrupted is not None else "its next step"
    event_append(run=run, type=Event.Type.STATUS, body=f"The worker running it was lost; resuming from {where}")
    audit_record(actor=SYSTEM, action="scaffolder.run.resume", target=run, after={"status": run.status})
    log.warning("scaffolder.run.resumed", run_id=str(run.pk), step=interrupted.step_id if interrupted else "")
    jobs.run_execute_enqueue(run_id=str(run.pk))
    return run


def runs_root() -> Path:
    """Where runs keep their files: `$PAVED_VAR_DIR/scaffolder/runs/<run id>/` (`workspace/`, `template/`)."""
    return Path(settings.VAR_DIR) / "scaffolder" / "runs"


def run_workspace(*, run_id: str) -> Path:
    """The folder a run's files are made in."""
    return runs_root() / str(run_id) / "workspace"


def run_files_remove(*, run: Run) -> bool:
    """Remove the files of a finished run that nobody needs any more; True when something was removed.

    A completed run and a cancelled or rejected one lose their whole folder (a cancelled run retried later starts
    again from its first step). A failed run keeps it for RUN_FILES_KEPT_FOR, so a retry goes on from the failed
    step, and a dry run keeps its workspace as long for its page to show the files it rendered; `run_files_sweep`
    removes those afterwards. Not a transaction: files only.
    """
    folder = runs_root() / str(run.pk)
    if not run.is_finished or not folder.exists():
        return False
    if run.dry_run:
        target = folder / "template"
    elif run.status == Run.Status.FAILED:
        return False
    else:
        target = folder
    if not target.exists():
        return False
    shutil.rmtree(target, ignore_errors=True)
    log.info("scaffolder.run.files_removed", run_id=str(run.pk), path=str(target))
    return True


def run_files_remove_on_commit(*, run: Run) -> None:
    """`run_files_remove` once the caller's transaction commits (the run is then finished for everyone)."""
    transaction.on_commit(partial(_files_remove_by_id, str(run.pk)))


def _files_remove_by_id(run_id: str) -> None:
    run = Run.objects.filter(pk=run_id).first()
    if run is not None:
        run_files_remove(run=run)


def run_files_sweep(*, older_than: timedelta = RUN_FILES_KEPT_FOR) -> list[str]:
    """Remove run folders left behind (the beat job): those of runs finished more than `older_than` ago, of runs
    that no longer exist, and anything else in the runs folder untouched for that long. Folders of runs still open,
    waiting or processing are kept whatever their age. The names removed."""
    root = runs_root()
    if not root.is_dir():
        return []
    cutoff = timezone.now() - older_than
    removed: list[str] = []
    for folder in sorted(root.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            modified = folder.lstat().st_mtime
            if modified < cutoff.timestamp():
                folder.unlink(missing_ok=True)
                removed.append(folder.name)
            continue
        try:
            run = Run.objects.filter(pk=uuid.UUID(folder.name)).first()
        except ValueError:
            run = None
        if run is not None:
            if not run.is_finished or run.finished_at is None or run.finished_at >= cutoff:
                continue
        elif folder.stat().st_mtime >= cutoff.timestamp():
            continue  # a run being created right now, or a stray folder not yet old enough
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    if removed:
        log.info("scaffolder.run.files_swept", count=len(removed))
    return removed


def event_append(*, run: Run, type: str, body: str, step: Step | None = None) -> Event:
    """Append one line to the run's log (it joins the caller's transaction, or commits at once outside of one)."""
    return Event.objects.create(run=run, step=step, type=type, body=body[:MAX_EVENT_BODY])
