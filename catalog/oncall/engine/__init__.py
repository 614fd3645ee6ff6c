"""Paved's on-call engine: schedules, final schedules and escalation policies, without Django.

PagerDuty "final schedule" semantics: later layers win where layers overlap, a layer contributes
nobody outside its restriction windows or before its start, overrides win over every layer (a
later override over an earlier one). Day and week turns hand off at the same local wall-clock
time across DST changes; hour turns are absolute. The iCalendar feeds live in
``catalog.oncall.engine.ical`` so that importing the engine does not require ``icalendar``.
"""

from __future__ import annotations

from .engine import (
    HORIZON,
    ScheduleStatus,
    balance,
    balance_of,
    coverage,
    coverage_of,
    covered_intervals,
    max_share,
    next_handoff,
    on_call_at,
    render,
    render_layer,
    render_overrides,
    schedule_status,
    timeline,
)
from .health import HealthWarning, policy_health, schedule_health
from .localtime import resolve
from .model import (
    Coverage,
    DailyWindow,
    EscalationLevel,
    EscalationPolicy,
    Handoff,
    Layer,
    LayerTimeline,
    Override,
    Restriction,
    Schedule,
    Segment,
    Shift,
    Target,
    Timeline,
    Turn,
    WeeklyWindow,
)
from .policy import LevelStatus, Next, OnCall, Readiness, paging_summary, policy_now, readiness
from .refs import display_name, normalize_ref
from .spec import (
    SpecError,
    SpecIssue,
    policy_from_spec,
    schedule_from_spec,
    validate_policy_spec,
    validate_schedule_spec,
)

__all__ = [
    "HORIZON",
    "Coverage",
    "DailyWindow",
    "EscalationLevel",
    "EscalationPolicy",
    "Handoff",
    "HealthWarning",
    "Layer",
    "LayerTimeline",
    "LevelStatus",
    "Next",
    "OnCall",
    "Override",
    "Readiness",
    "Restriction",
    "Schedule",
    "ScheduleStatus",
    "Segment",
    "Shift",
    "SpecError",
    "SpecIssue",
    "Target",
    "Timeline",
    "Turn",
    "WeeklyWindow",
    "balance",
    "balance_of",
    "coverage",
    "coverage_of",
    "covered_intervals",
    "display_name",
    "max_share",
    "next_handoff",
    "normalize_ref",
    "on_call_at",
    "paging_summary",
    "policy_from_spec",
    "policy_health",
    "policy_now",
    "readiness",
    "render",
    "render_layer",
    "render_overrides",
    "resolve",
    "schedule_from_spec",
    "schedule_health",
    "schedule_status",
    "timeline",
    "validate_policy_spec",
    "validate_schedule_spec",
]
