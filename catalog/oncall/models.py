"""The on-call room's own tables: overrides set in the portal and secret calendar feeds.

They belong to the catalog app (label `catalog`; `catalog/models.py` imports them so Django finds them), so their
tables and migrations stay the catalog's.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OnCallOverride(models.Model):
    """Someone on call for a schedule from `start` to `end`, set in the portal rather than in the schedule's YAML.

    Refs are stored lower-cased and full (`schedule:default/payments-primary`, `user:default/alice`) and are not
    foreign keys: a schedule re-read from its repository keeps its runtime overrides. When building the engine's
    schedule, these come after the YAML's `spec.overrides`, so a portal override wins where they overlap.
    """

    schedule_ref = models.CharField(max_length=300, db_index=True)
    user_ref = models.CharField(max_length=300, db_index=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["schedule_ref", "start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="catalog_oncalloverride_end_after_start",
                violation_error_message="An override must end after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["schedule_ref", "end"])]

    def __str__(self) -> str:
        return f"{self.user_ref} on {self.schedule_ref} {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A secret iCalendar feed URL for one schedule or one person. Only the token's SHA-256 is stored; the token
    is shown once at creation. Revoking keeps the row (for the audit trail) and makes the URL answer 404."""

    class Kind(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        PERSON = "person", "Person"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    ref = models.CharField(max_length=300, help_text="The schedule or user ref the feed shows.")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell feeds apart.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "ref"])]

    def __str__(self) -> str:
        return f"{self.kind} feed {self.prefix}… for {self.ref}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
