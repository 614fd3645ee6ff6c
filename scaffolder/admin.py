"""Scaffolder runs in Django's admin, read-only: runs change only through the services, which audit them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scaffolder.models import Approval, Event, Run, Step


class _ReadOnly(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StepInline(_ReadOnly):
    model = Step
    fields = ["position", "step_id", "action", "status", "started_at", "finished_at", "error"]


class ApprovalInline(_ReadOnly):
    model = Approval
    fields = ["approver_ref", "reason", "decision", "decided_by", "comment", "decided_at"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "template_ref", "status", "created_by", "dry_run", "created_at", "finished_at"]
    list_filter = ["status", "dry_run"]
    search_fields = ["template_ref", "user_ref", "id"]
    inlines = [StepInline, ApprovalInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "run", "step", "type", "created_at", "body"]
    list_filter = ["type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
