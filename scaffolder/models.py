"""The scaffolder's tables: runs of a template, their ordered steps, approvals of guard rails and the event log.

A run keeps a snapshot of its template's `spec` (steps and output), so a template edited in the catalog while a run
waits for approval or is retried does not change what the run does.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Run(models.Model):
    """One use of a template: the answers given, the status, the steps to run and what came out (links, entity)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_APPROVAL = "awaiting-approval", "Awaiting approval"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template_ref = models.CharField(max_length=512)
    template_version = models.CharField(
        max_length=200, blank=True, default="", help_text="The template's version the run began with (1.0.0)."
    )
    template_tag = models.CharField(
        max_length=200, blank=True, default="", help_text="The git tag the template's files were read at (v1.0.0)."
    )
    spec = models.JSONField(default=dict, blank=True, help_text="The template's spec when the run was created.")
    template_dir = models.CharField(
        max_length=2048, blank=True, default="", help_text="The template's directory on disk, when it has one."
    )
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_ref = models.CharField(max_length=512, blank=True, default="", help_text="The requester's catalog User.")
    dry_run = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(
        default=False, help_text="Asked to stop while processing: it stops before its next step."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it (at each step)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(default=dict, blank=True, help_text="The template's rendered output: links, text, …")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="scaffolder_run_status_idx"),
            models.Index(fields=["created_by", "created_at"], name="scaffolder_run_creator_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["open", "awaiting-approval", "processing", "completed", "failed", "cancelled"]
                ),
                name="scaffolder_run_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True)
                | models.Q(status__in=["completed", "failed", "cancelled"]),
                name="scaffolder_run_finished_only_when_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_ref} run {self.pk} ({self.status})"

    @property
    def requested_by_id(self) -> int | None:
        """Who asked for the run: never an approver of it (portal.permissions)."""
        return self.created_by_id

    @property
    def approver_ref(self) -> str:
        """Who may approve the run now: the approver of its first pending approval ("" when none is pending), so a
        page may ask `may(user, Action.SCAFFOLDER_RUN_APPROVE, run)` to show the buttons."""
        pending = [approval for approval in self.approvals.all() if approval.is_pending]
        return pending[0].approver_ref if pending else ""

    @property
    def approver_refs(self) -> tuple[str, ...]:
        """Every group (or user) whose members may approve a pending approval of the run now."""
        refs: list[str] = []
        for approval in self.approvals.all():
            if approval.is_pending:
                refs.extend(ref for ref in approval.approver_refs if ref not in refs)
        return tuple(refs)

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Approval(models.Model):
    """A guard rail a run crossed: who may approve it, why it is needed, and the decision once taken."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    position = models.PositiveIntegerField(help_text="The guard rail's position in the template.")
    approver_ref = models.CharField(max_length=512, help_text="The group (or user) whose members may approve.")
    other_approver_refs = models.JSONField(
        default=list, blank=True, help_text="Further groups (or users) whose members may approve it as well."
    )
    reason = models.TextField(blank=True, default="")
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="scaffolder_approval_unique_position"),
            models.CheckConstraint(
                condition=models.Q(decision__in=["", "approved", "rejected"]), name="scaffolder_approval_decision_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(decision="", decided_at__isnull=True)
                | (~models.Q(decision="") & models.Q(decided_at__isnull=False)),
                name="scaffolder_approval_decided_with_time",
            ),
        ]

    def __str__(self) -> str:
        return f"approval of run {self.run_id} by {self.approver_ref}: {self.decision or 'pending'}"

    @property
    def requested_by_id(self) -> int | None:
        """Who asked for the run: never an approver of it (portal.permissions)."""
        return self.run.created_by_id

    @property
    def approver_refs(self) -> tuple[str, ...]:
        """Who may approve it: any member of any of these (the guard rail's `approvers`, in the template's order)."""
        others = [str(ref) for ref in self.other_approver_refs or [] if ref and ref != self.approver_ref]
        return (self.approver_ref, *others)

    @property
    def approvers_display(self) -> str:
        return " or ".join(self.approver_refs)

    @property
    def is_pending(self) -> bool:
        return not self.decision


class Step(models.Model):
    """One step of a run, in order: the template's definition, the input it ran with, its status and output."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    step_id = models.CharField(max_length=200)
    name = models.CharField(max_length=500, blank=True, default="")
    action = models.CharField(max_length=200)
    definition = models.JSONField(default=dict, blank=True, help_text="The step as the template declares it.")
    input = models.JSONField(
        default=dict, blank=True, help_text="The rendered input it ran with (a list of them for `each`)."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    output = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="scaffolder_step_unique_position"),
            models.UniqueConstraint(fields=["run", "step_id"], name="scaffolder_step_unique_id"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "processing", "completed", "failed", "skipped", "cancelled"]),
                name="scaffolder_step_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"step {self.position} {self.step_id} ({self.status})"


class Event(models.Model):
    """An append-only line of a run's log: what happened, to which step, when. Never updated or deleted alone."""

    class Type(models.TextChoices):
        LOG = "log", "Log"
        STATUS = "status", "Status"
        ERROR = "error", "Error"
        COMPLETION = "completion", "Completion"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    type = models.CharField(max_length=12, choices=Type.choices, default=Type.LOG)
    body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "id"], name="scaffolder_event_run_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=["log", "status", "error", "completion"]),
                name="scaffolder_event_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type}: {self.body[:80]}"
