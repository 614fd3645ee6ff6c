"""Scaffolder runs: create from a Template entity, approve or reject what crossed a guard rail, cancel, retry, fail.

Each service is one transaction; execution is enqueued through `scaffolder.jobs` once it commits, and the worker
runs it in `scaffolder.runner`. Every decision a person takes on a run is recorded in the audit log.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Final

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog import selectors as catalog_selectors
from catalog.descriptors import validate_entity
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


# -- dry runs: a template rendered by the same engine and actions, in the request, and nothing of it kept --------------

DRY_RUN_SECONDS: Final = 30.0
DRY_RUN_MAX_FILES: Final = 500
DRY_RUN_MAX_BYTES: Final = 1024 * 1024
DRY_RUN_MAX_PATH: Final = 1024
DRY_RUN_OUTPUT_MAX_FILES: Final = 5000
DRY_RUN_OUTPUT_MAX_BYTES: Final = 20 * 1024 * 1024
DRY_RUN_LOG_LIMIT: Final = 5000
TEMPLATE_API_VERSION: Final = "scaffolder.backstage.io/v1beta3"
_INLINE_TEMPLATE_DIR: Final = "inline-template"
_DIRECTORY_ENTRY_KEYS: Final = ("path", "base64Content", "executable")


@dataclass(frozen=True)
class DryRunFile:
    """A file of a dry run: one given with an inline template, or one the run rendered into its workspace."""

    path: str
    content: bytes
    executable: bool = False


@dataclass(frozen=True)
class DryRunResult:
    """What a dry run did: its log in order (the events, and the step id of each step row), the files it rendered,
    the template's rendered output, its steps (id, name, action), and how it ended (a Run status and its error)."""

    events: list[Event]
    step_ids: dict[int, str]
    files: list[DryRunFile]
    output: dict[str, Any]
    steps: list[dict[str, str]]
    status: str
    error: str


class _SanctionedLocation:
    """What running an inline template amounts to: bringing in a template nobody sanctioned, as registering a
    trusted location does. Only who may register one may do it (portal.permissions)."""

    trusted = True
    created_by_id: int | None = None


class DryRunInputError(ApplicationError):
    """Input of a dry run that cannot be used: Backstage's InputError, with `details` by path in the body."""

    name = "InputError"


def _input_error(message: str, details: dict[str, list[str]]) -> ApplicationError:
    return DryRunInputError(message, extra={"details": details})


def dry_run_template_check(*, template: Any, actor: Actor | None) -> dict[str, Any]:
    """`template` as an inline Template entity the actor may dry-run: only who may register a trusted location may
    run a template nobody sanctioned, and only one the catalog's descriptor validator accepts as a Template
    (`scaffolder.backstage.io/v1beta3`). Errors name the path inside `template`."""
    if not is_member(actor):
        raise ForbiddenError("Sign in first: a dry run needs a signed-in user.")
    if not may(actor, Action.LOCATION_REGISTER, _SanctionedLocation()):
        raise ForbiddenError(
            "Only those who may register trusted locations (administrators) may dry-run an inline template, which "
            "nobody sanctioned; dry-run a template of the catalog with templateRef instead."
        )
    issues = validate_entity(template, file="template", document=None)
    if issues:
        details: dict[str, list[str]] = {}
        for issue in issues:
            details.setdefault(f"template.{issue.path}".rstrip("."), []).append(issue.message)
        raise _input_error(
            "The template is not a valid entity: " + "; ".join(issue.message for issue in issues[:10]), details
        )
    assert isinstance(template, Mapping)
    found = f"{template.get('apiVersion')} {template.get('kind')}"
    if (template.get("apiVersion"), template.get("kind")) != (TEMPLATE_API_VERSION, "Template"):
        raise _input_error(
            f"template: expected a Template of {TEMPLATE_API_VERSION}, found {found[:200]}",
            {"template.kind": [f"expected Template of {TEMPLATE_API_VERSION}, found {found[:200]}"]},
        )
    return dict(template)


def _dry_run_path(value: Any, where: str) -> str:
    """A file path of directoryContents: relative, inside the template, no `..`, no `.git`, printable."""

    def refuse(why: str) -> ApplicationError:
        shown = repr(value)[:200]
        return _input_error(f"{where}.path {shown}: {why}", {f"{where}.path": [why]})

    if not isinstance(value, str) or not value.strip():
        raise refuse("expected a relative file path such as skeleton/README.md")
    if len(value) > DRY_RUN_MAX_PATH:
        raise refuse(f"a path may be at most {DRY_RUN_MAX_PATH} characters long")
    if any(ord(char) < 32 or char == "\x7f" for char in value) or "\\" in value:
        raise refuse("control characters and backslashes are not allowed in a path")
    path = PurePosixPath(value)
    if path.is_absolute() or value.startswith("~") or (path.parts and ":" in path.parts[0]):
        raise refuse("expected a path relative to the template, not an absolute one")
    if ".." in path.parts:
        raise refuse("a path may not contain '..'")
    parts = [part for part in path.parts if part != "."]
    if not parts:
        raise refuse("expected a file path, found the template's root")
    if ".git" in parts:
        raise refuse("a template may not carry a .git folder")
    return "/".join(parts)


def dry_run_files(*, entries: Any) -> list[DryRunFile]:
    """The files of an inline template from Backstage's `directoryContents` (`[{path, base64Content,
    executable?}]`): at most DRY_RUN_MAX_FILES, DRY_RUN_MAX_BYTES decoded in all, plain files only (an entry with
    any other key, such as a link target, is refused), each path once and never both a file and a folder."""
    if not isinstance(entries, list):
        raise _input_error("directoryContents: expected a list", {"directoryContents": ["expected a list"]})
    if len(entries) > DRY_RUN_MAX_FILES:
        why = f"at most {DRY_RUN_MAX_FILES} files are accepted, found {len(entries)}"
        raise _input_error(f"directoryContents: {why}", {"directoryContents": [why]})
    files: list[DryRunFile] = []
    seen: set[str] = set()
    total = 0
    for index, entry in enumerate(entries):
        where = f"directoryContents[{index}]"
        if not isinstance(entry, Mapping):
            why = "expected an object {path, base64Content}"
            raise _input_error(f"{where}: {why}", {where: [why]})
        unknown = sorted(str(key)[:100] for key in entry if key not in _DIRECTORY_ENTRY_KEYS)
        if unknown:
            why = (
                f"unknown keys {', '.join(unknown[:5])}: only plain files (path, base64Content, executable) are "
                "accepted, never links or other special entries"
            )
            raise _input_error(f"{where}: {why}", {where: [why]})
        path = _dry_run_path(entry.get("path"), where)
        if path in seen:
            why = f"{path} is given twice"
            raise _input_error(f"{where}.path: {why}", {f"{where}.path": [why]})
        encoded = entry.get("base64Content")
        if not isinstance(encoded, str):
            why = "expected the file's content in base64"
            raise _input_error(f"{where}.base64Content: {why}", {f"{where}.base64Content": [why]})
        if len(encoded) > (DRY_RUN_MAX_BYTES - total) * 4 // 3 + 4:
            why = f"the files may hold at most {DRY_RUN_MAX_BYTES} bytes in all"
            raise _input_error(f"{where}.base64Content ({path}): {why}", {f"{where}.base64Content": [why]})
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            why = "not valid base64"
            raise _input_error(f"{where}.base64Content ({path}): {why}", {f"{where}.base64Content": [why]}) from None
        total += len(content)
        if total > DRY_RUN_MAX_BYTES:
            why = f"the files may hold at most {DRY_RUN_MAX_BYTES} bytes in all"
            raise _input_error(f"{where}.base64Content ({path}): {why}", {f"{where}.base64Content": [why]})
        executable = entry.get("executable", False)
        if not isinstance(executable, bool):
            why = "expected true or false"
            raise _input_error(f"{where}.executable: {why}", {f"{where}.executable": [why]})
        seen.add(path)
        files.append(DryRunFile(path=path, content=content, executable=executable))
    folders = {str(parent) for file in files for parent in PurePosixPath(file.path).parents if str(parent) != "."}
    clashes = sorted(folders & seen)
    if clashes:
        why = f"{clashes[0]} is given as a file and as a folder of other files"
        raise _input_error(f"directoryContents: {why}", {"directoryContents": [why]})
    return files


def _dry_run_write(root: Path, files: Sequence[DryRunFile]) -> None:
    # The paths were checked and the folder is new, so nothing on the way can be a link; "x" refuses to overwrite.
    root.mkdir(parents=True)
    for file in files:
        target = root.joinpath(*file.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as handle:
            handle.write(file.content)
        if file.executable:
            target.chmod(0o755)


@transaction.atomic
def _dry_run_create(
    *, run_id: uuid.UUID, template: Mapping[str, Any], parameters: Mapping[str, Any], actor: User, source: str
) -> Run:
    spec = dict(template.get("spec") or {})
    steps = spec.get("steps") or []
    if not isinstance(steps, list):
        raise _input_error("template.spec.steps must be a list.", {"template.spec.steps": ["expected a list"]})
    user_entity = catalog_selectors.user_entity_get(user=actor)
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    tag = template_tag(source)
    run = Run.objects.create(
        id=run_id,
        template_ref=_template_ref(template),
        template_version=version_of_tag(tag) if tag else str(annotations.get("paved.dev/template-version") or ""),
        template_tag=tag,
        spec={key: spec[key] for key in ("steps", "output") if key in spec},
        template_dir=source,
        parameters=dict(parameters),
        status=Run.Status.OPEN,
        created_by=actor,
        user_ref=user_entity.ref if user_entity is not None else "",
        dry_run=True,
    )
    for position, raw in enumerate(steps):
        if not isinstance(raw, Mapping) or not raw.get("action"):
            where = f"template.spec.steps[{position}]"
            raise _input_error(f"{where} must be an object with an action.", {where: ["expected {id, action, input}"]})
        Step.objects.create(
            run=run,
            position=position,
            step_id=str(raw.get("id") or f"step-{position}"),
            name=str(raw.get("name") or raw.get("id") or raw["action"]),
            action=str(raw["action"]),
            definition=dict(raw),
        )
    return run


def _dry_run_stop(*, run_id: uuid.UUID, stopped: threading.Event, seconds: float) -> None:
    """The time limit (in a timer thread): ask the run to stop before its next step, as a cancel does."""
    stopped.set()
    try:
        with transaction.atomic():
            asked = Run.objects.filter(pk=run_id, status__in=[Run.Status.OPEN, Run.Status.PROCESSING]).update(
                cancel_requested=True
            )
            if asked:
                Event.objects.create(
                    run_id=run_id,
                    type=Event.Type.ERROR,
                    body=f"The dry run reached its time limit of {seconds:g} s; it stops before the next step",
                )
    except DatabaseError as error:
        log.warning("scaffolder.dry_run.stop_failed", run_id=str(run_id), error=str(error))
    finally:
        connection.close()


def _dry_run_output_files(workspace: Path) -> list[DryRunFile]:
    """The files the run rendered (links and .git left out), within the output limits."""
    if not workspace.is_dir():
        return []
    found: list[DryRunFile] = []
    total = 0
    for path in sorted(workspace.rglob("*")):
        relative = path.relative_to(workspace)
        if path.is_symlink() or not path.is_file() or ".git" in relative.parts:
            continue
        if len(found) >= DRY_RUN_OUTPUT_MAX_FILES:
            raise ApplicationError(f"The dry run rendered more than {DRY_RUN_OUTPUT_MAX_FILES} files.")
        total += path.stat().st_size
        if total > DRY_RUN_OUTPUT_MAX_BYTES:
            raise ApplicationError(f"The dry run rendered more than {DRY_RUN_OUTPUT_MAX_BYTES} bytes of files.")
        executable = bool(path.stat().st_mode & 0o100)
        found.append(DryRunFile(path=relative.as_posix(), content=path.read_bytes(), executable=executable))
    return found


def run_dry_run(
    *,
    template: Mapping[str, Any],
    parameters: Mapping[str, Any],
    actor: Actor | None,
    directory_contents: Any = None,
    seconds: float | None = None,
) -> DryRunResult:
    """Run `template` with `dry_run` set, now, in this thread: the same engine and actions as a run, publishing
    nothing, and give back its log, the files it rendered, its output and its steps.

    A registered template (`directory_contents` None) reads its files from its source as a run does; an inline one
    brings them in `directory_contents` (checked by `dry_run_template_check` and `dry_run_files`). The values must
    have been checked against the template's parameters already.

    Not one transaction: the engine commits each change of state on its own, as in the worker. Nothing is kept: the
    run's row (with its steps and events) exists while it runs and is deleted afterwards, and its folder under
    $PAVED_VAR_DIR/scaffolder/runs/ (inline template, workspace) is removed whatever happens. After `seconds`
    (PAVED_SCAFFOLDER_DRY_RUN_SECONDS, 30 by default) the run is asked to stop before its next step; each action
    keeps its own limits on files, bytes and git.
    """
    # The engine imports this module for event_append and the like; it is needed here only.
    from scaffolder import runner

    if not isinstance(actor, User) or not is_member(actor):
        raise ForbiddenError("Sign in first: a dry run needs a signed-in user.")
    files: list[DryRunFile] | None = None
    if directory_contents is not None:
        template = dry_run_template_check(template=template, actor=actor)
        files = dry_run_files(entries=directory_contents)
    limit = float(seconds if seconds is not None else getattr(settings, "PAVED_SCAFFOLDER_DRY_RUN_SECONDS", 0) or 0)
    limit = limit if limit > 0 else DRY_RUN_SECONDS
    run_id = uuid.uuid4()
    workspace = runner.workspace_path(run_id=str(run_id))
    run_dir = workspace.parent
    stopped = threading.Event()
    timer = threading.Timer(limit, _dry_run_stop, kwargs={"run_id": run_id, "stopped": stopped, "seconds": limit})
    try:
        if files is None:
            source = template_source(template)
        else:
            source = str(run_dir / _INLINE_TEMPLATE_DIR)
            _dry_run_write(run_dir / _INLINE_TEMPLATE_DIR, files)
        _dry_run_create(run_id=run_id, template=template, parameters=parameters, actor=actor, source=source)
        timer.start()
        runner.run_execute(run_id=str(run_id))
        timer.cancel()
        run = Run.objects.get(pk=run_id)
        steps = list(run.steps.order_by("position"))
        events = list(Event.objects.filter(run=run).order_by("id")[:DRY_RUN_LOG_LIMIT])
        error = run.error
        if stopped.is_set() and run.status == Run.Status.CANCELLED:
            error = f"The dry run took longer than {limit:g} s and was stopped"
        return DryRunResult(
            events=events,
            step_ids={step.pk: step.step_id for step in steps},
            files=_dry_run_output_files(workspace),
            output=dict(run.output or {}),
            steps=[{"id": step.step_id, "name": step.name, "action": step.action} for step in steps],
            status=run.status,
            error=error,
        )
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join(timeout=5)
        Run.objects.filter(pk=run_id).delete()
        shutil.rmtree(run_dir, ignore_errors=True)
        log.info("scaffolder.dry_run.finished", run_id=str(run_id), template=_template_ref(template))
