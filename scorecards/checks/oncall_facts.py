"""The values of the ``oncall.*`` facts, computed from the on-call engine's objects (pure).

The on-call fact collector loads an entity's policy and its schedules (``catalog.oncall.loading``) and stores what
these functions return, so the shapes documented in ``scorecards.checks`` and read by ``scorecards.checks.oncall``
have one definition. Level 1 is computed as ``catalog.oncall.engine.policy.readiness`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from catalog.oncall.engine import EscalationPolicy, Schedule, balance_of, coverage_of, covered_intervals, render


def policy_value(
    policy: EscalationPolicy | None, schedules: Mapping[str, Schedule], *, problem: str | None = None
) -> dict[str, Any] | None:
    """``oncall.policy``: None without a policy; ``problem`` when the annotation names no readable policy."""
    if policy is None and problem is None:
        return None
    if policy is None:
        return {"ref": None, "problem": problem, "levels": []}
    levels = []
    for level in policy.levels:
        people: set[str] = set()
        unknown: list[str] = []
        for target in level.targets:
            if target.kind == "user":
                people.add(target.ref)
            elif target.ref in schedules:
                people |= schedules[target.ref].members()
            else:
                unknown.append(target.ref)
        levels.append(
            {
                "targets": [target.ref for target in level.targets],
                "people": sorted(people),
                "unknown_schedules": unknown,
            }
        )
    return {"ref": policy.ref, "problem": problem, "levels": levels}


def coverage_value(
    policy: EscalationPolicy | None, schedules: Mapping[str, Schedule], *, now: datetime, days: int
) -> dict[str, Any] | None:
    """``oncall.coverage:<days>``: level 1 over ``[now, now + days)``; a user target covers the whole window."""
    if policy is None:
        return None
    end = now + timedelta(days=days)
    covered: list[tuple[datetime, datetime]] = []
    for target in policy.levels[0].targets if policy.levels else ():
        if target.kind == "user":
            covered.append((now, end))
        elif target.ref in schedules:
            covered.extend(covered_intervals(schedules[target.ref], now, end))
    result = coverage_of(covered, now, end)
    return {
        "percent": result.percent,
        "longest_gap_hours": result.longest_gap.total_seconds() / 3600,
        "gaps": [[start.isoformat(), stop.isoformat()] for start, stop in result.gaps],
    }


def rotation_value(policy: EscalationPolicy | None, schedules: Mapping[str, Schedule]) -> dict[str, Any] | None:
    """``oncall.rotation``: distinct people of level 1 and the member count of each of its schedules."""
    if policy is None:
        return None
    people: set[str] = set()
    sizes: dict[str, int] = {}
    for target in policy.levels[0].targets if policy.levels else ():
        if target.kind == "user":
            people.add(target.ref)
        elif target.ref in schedules:
            members = schedules[target.ref].members()
            sizes[target.ref] = len(members)
            people |= members
    return {"size": len(people), "schedules": sizes}


def hours_value(
    policy: EscalationPolicy | None, schedules: Mapping[str, Schedule], *, now: datetime, days: int
) -> dict[str, float] | None:
    """``oncall.hours:<days>``: level-1 hours on call per person over ``[now, now + days)``."""
    if policy is None:
        return None
    end = now + timedelta(days=days)
    totals: dict[str, timedelta] = {}
    for target in policy.levels[0].targets if policy.levels else ():
        if target.kind == "user":
            totals[target.ref] = totals.get(target.ref, timedelta()) + (end - now)
        elif target.ref in schedules:
            for user, spent in balance_of(render(schedules[target.ref], now, end)).items():
                totals[user] = totals.get(user, timedelta()) + spent
    return {user: spent.total_seconds() / 3600 for user, spent in sorted(totals.items())}
