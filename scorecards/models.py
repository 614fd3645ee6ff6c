"""Scorecards' tables: what was observed (facts), what it means (results and levels), how it changed (transitions),
what is forgiven for a while (exemptions) and what the company is driving towards (campaigns).

Entities and scorecards are named by their catalog refs (`component:default/checkout`,
`scorecard:default/production-readiness`), not by foreign keys: history must outlive an entity that is renamed,
unregistered and registered again, and a scorecard whose definition changes. Refs are stored lower-cased, as the
catalog compares them.

The definitions themselves live in the catalog (`Scorecard` entities from trusted locations); `Scorecard` here keeps
the definition that produced the current results, so a page can explain a result after its scorecard was edited.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

STATES = ("pass", "fail", "not-applicable", "error", "stale")


class Scorecard(models.Model):
    """The definition of a Scorecard entity as last evaluated (its `spec`), and when."""

    ref = models.CharField(max_length=300, unique=True)
    title = models.CharField(max_length=500, blank=True)
    owner_ref = models.CharField(max_length=300, blank=True, help_text="Approves exemptions from its checks.")
    definition = models.JSONField(help_text="The Scorecard entity's spec the current results were computed from.")
    definition_hash = models.CharField(max_length=64)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ref"]

    def __str__(self) -> str:
        return self.title or self.ref


class Fact(models.Model):
    """One observation about one entity (`catalog.entity`, `repo.file:README.md`, `oncall.coverage:14`, …), with
    where it came from and when. A collector that failed stores `error` and no value: missing data is never a fail."""

    entity_ref = models.CharField(max_length=300)
    key = models.CharField(max_length=300)
    value = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=1000, blank=True, help_text="Where the value was read: a file, a commit, …")
    collected_at = models.DateTimeField()
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity_ref", "key"], name="scorecards_fact_unique")]

    def __str__(self) -> str:
        return f"{self.entity_ref} {self.key}"


class Score(models.Model):
    """The current level and weighted percentage of one entity on one scorecard."""

    entity_ref = models.CharField(max_length=300)
    scorecard_ref = models.CharField(max_length=300)
    owner_ref = models.CharField(max_length=300, blank=True, db_index=True, help_text="The entity's owner (team).")
    level = models.CharField(max_length=200, blank=True, help_text="The highest level held; empty when none.")
    level_index = models.IntegerField(default=-1, help_text="Position of `level` in the scorecard, -1 for none.")
    percent = models.FloatField(default=0.0)
    counts = models.JSONField(default=dict, blank=True, help_text="Checks per state: {pass: 3, fail: 1, …}.")
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity_ref", "scorecard_ref"], name="scorecards_score_unique"),
        ]
        indexes = [models.Index(fields=["scorecard_ref", "level_index"], name="scorecards_score_level_idx")]

    def __str__(self) -> str:
        return f"{self.entity_ref} on {self.scorecard_ref}: {self.level or 'no level'}"


class Result(models.Model):
    """The current state of one check for one entity, with the evidence behind it and what to do about it."""

    class State(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        NOT_APPLICABLE = "not-applicable", "Not applicable"
        ERROR = "error", "Error"
        STALE = "stale", "Stale"

    entity_ref = models.CharField(max_length=300)
    scorecard_ref = models.CharField(max_length=300)
    check_id = models.CharField(max_length=200)
    level = models.CharField(max_length=200)
    state = models.CharField(max_length=20, choices=State.choices)
    exempt = models.BooleanField(default=False, help_text="Failing but exempted: counts as passing, shown apart.")
    evidence = models.JSONField(default=dict, blank=True, help_text="{value, source, observed_at, message}")
    remediation = models.TextField(blank=True, default="")
    changed_at = models.DateTimeField(help_text="When the state (or exemption) last changed.")
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity_ref", "scorecard_ref", "check_id"], name="scorecards_result_unique"
            ),
            models.CheckConstraint(condition=models.Q(state__in=STATES), name="scorecards_result_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_ref} {self.scorecard_ref}#{self.check_id}: {self.state}"


class Transition(models.Model):
    """Append-only history: a check's state or an entity's level changed at `at`. The level of anything on any past
    date is the `to_value` of the last level transition at or before it."""

    class Kind(models.TextChoices):
        CHECK = "check", "Check state"
        LEVEL = "level", "Level"

    entity_ref = models.CharField(max_length=300)
    scorecard_ref = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    check_id = models.CharField(max_length=200, blank=True, help_text="Empty for a level transition.")
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    level_index = models.IntegerField(null=True, blank=True, help_text="For a level transition: the new index.")
    percent = models.FloatField(null=True, blank=True, help_text="For a level transition: the new percentage.")
    owner_ref = models.CharField(max_length=300, blank=True, help_text="The entity's owner at the time.")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["scorecard_ref", "kind", "at"], name="scorecards_trans_card_idx"),
            models.Index(fields=["entity_ref", "scorecard_ref", "at"], name="scorecards_trans_entity_idx"),
        ]

    def __str__(self) -> str:
        what = self.check_id or "level"
        return f"{self.entity_ref} {self.scorecard_ref} {what}: {self.from_value} → {self.to_value} at {self.at}"


class Exemption(models.Model):
    """A request to count one failing check of one entity as passing until `expires_at`, for a stated reason.
    Approved by someone with approver rights on the scorecard's owner who is not the requester; ends by itself."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entity_ref = models.CharField(max_length=300)
    scorecard_ref = models.CharField(max_length=300)
    check_id = models.CharField(max_length=200)
    reason = models.TextField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    approver_ref = models.CharField(max_length=300, help_text="Who may approve: the scorecard's owner.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["entity_ref", "scorecard_ref", "check_id"], name="scorecards_exempt_check_idx"),
            models.Index(fields=["status", "expires_at"], name="scorecards_exempt_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "rejected", "expired", "revoked"]),
                name="scorecards_exemption_status_valid",
            ),
            models.UniqueConstraint(
                fields=["entity_ref", "scorecard_ref", "check_id"],
                condition=models.Q(status__in=["pending", "approved"]),
                name="scorecards_exemption_one_open",
                violation_error_message="This check of this entity already has a pending or approved exemption.",
            ),
        ]

    def __str__(self) -> str:
        return f"Exemption of {self.entity_ref} from {self.scorecard_ref}#{self.check_id} ({self.status})"


class Campaign(models.Model):
    """A push for services matching `filter` to reach `target_level` (or pass `check_ids`) on a scorecard by
    `due_date`; progress is computed from scores and transitions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    scorecard_ref = models.CharField(max_length=300)
    target_level = models.CharField(max_length=200, blank=True, default="")
    check_ids = models.JSONField(default=list, blank=True, help_text="Checks to pass, when no target level is set.")
    filter = models.CharField(max_length=2000, blank=True, default="", help_text="Backstage filter syntax.")
    due_date = models.DateField()
    owner_ref = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "title"]

    def __str__(self) -> str:
        return self.title
