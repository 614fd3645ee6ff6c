"""Health warnings: where an escalation policy or a schedule is weak, in sentences people can act on.

The rules (each warning carries one of these codes):

- ``single-level``: the policy has one level (or none), so nobody else is reached when it is missed.
- ``person-on-two-levels``: one person can be on call at two levels in the window, so escalating may reach the
  person who just missed the call.
- ``gap``: a level (all of its targets together), or a schedule, has nobody on call at some point in the window.
- ``rotation-of-one``: a schedule rotates through a single person, who then covers every shift alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from .engine import coverage_of, covered_intervals, render
from .model import EscalationPolicy, Schedule
from .refs import display_name

HEALTH_DAYS: Final = 7

SINGLE_LEVEL: Final = "single-level"
PERSON_ON_TWO_LEVELS: Final = "person-on-two-levels"
GAP: Final = "gap"
ROTATION_OF_ONE: Final = "rotation-of-one"


@dataclass(frozen=True, slots=True)
class HealthWarning:
    """One weakness. ``subject`` is the ref it is about (a schedule, a person, or the policy), ``level`` the 1-based
    level when it is about one, and ``start`` the first moment of a gap."""

    code: str
    message: str
    subject: str
    level: int | None = None
    start: datetime | None = None


def _name(ref: str, names: Mapping[str, str] | None) -> str:
    return (names or {}).get(ref) or display_name(ref)


def _levels_text(levels: list[int]) -> str:
    numbers = [str(n) for n in levels]
    return numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def _gap_text(count: int, days: int) -> str:
    return f"{'a gap' if count == 1 else f'{count} gaps'} in the next {days} day{'s' if days != 1 else ''}"


def _first_gap(covered: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> tuple[int, datetime | None]:
    gaps = coverage_of(covered, start, end).gaps
    return len(gaps), (gaps[0][0] if gaps else None)


def _rotation_of_one(schedule: Schedule, names: Mapping[str, str] | None) -> HealthWarning | None:
    members = schedule.members()
    if len(members) != 1:
        return None
    (only,) = members
    return HealthWarning(
        ROTATION_OF_ONE,
        f"{_name(schedule.ref, names)} rotates through one person ({_name(only, names)}): nobody shares the shifts "
        "or covers when they are away.",
        schedule.ref,
    )


def schedule_health(
    schedule: Schedule, now: datetime, *, days: int = HEALTH_DAYS, names: Mapping[str, str] | None = None
) -> tuple[HealthWarning, ...]:
    """A schedule's warnings over the next ``days`` days: gaps and a rotation of one."""
    if days < 1:
        raise ValueError("health needs a window of at least one day")
    end = now + timedelta(days=days)
    out: list[HealthWarning] = []
    count, first = _first_gap(covered_intervals(schedule, now, end), now, end)
    if first is not None:
        out.append(
            HealthWarning(
                GAP,
                f"{_name(schedule.ref, names)} has {_gap_text(count, days)}: nobody is on call then.",
                schedule.ref,
                start=first,
            )
        )
    rotation = _rotation_of_one(schedule, names)
    if rotation is not None:
        out.append(rotation)
    return tuple(out)


def policy_health(
    policy: EscalationPolicy,
    schedules: Mapping[str, Schedule],
    now: datetime,
    *,
    days: int = HEALTH_DAYS,
    names: Mapping[str, str] | None = None,
) -> tuple[HealthWarning, ...]:
    """A policy's warnings over the next ``days`` days, most serious first: a single level, levels with gaps (all of
    a level's targets together; a schedule missing from ``schedules`` covers nothing), people on two levels, and
    schedules rotating through one person. ``names`` maps refs (people and schedules) to what people call them."""
    if days < 1:
        raise ValueError("health needs a window of at least one day")
    end = now + timedelta(days=days)
    out: list[HealthWarning] = []
    if len(policy.levels) <= 1:
        out.append(
            HealthWarning(
                SINGLE_LEVEL,
                "This policy has no levels: nobody is on call."
                if not policy.levels
                else "This policy has a single level: when it is missed, nobody else is reached.",
                policy.ref,
            )
        )
    levels_of: dict[str, list[int]] = {}
    for number, level in enumerate(policy.levels, start=1):
        covered: list[tuple[datetime, datetime]] = []
        people: set[str] = set()
        for target in level.targets:
            if target.kind == "user":
                covered.append((now, end))
                people.add(target.ref)
                continue
            schedule = schedules.get(target.ref)
            if schedule is None:
                continue
            covered.extend(covered_intervals(schedule, now, end))
            people.update(segment.user for segment in render(schedule, now, end) if segment.user is not None)
        count, first = _first_gap(covered, now, end)
        if first is not None:
            out.append(
                HealthWarning(
                    GAP,
                    f"Level {number} has {_gap_text(count, days)}: nobody at this level is on call then.",
                    policy.ref,
                    level=number,
                    start=first,
                )
            )
        for person in people:
            levels_of.setdefault(person, []).append(number)
    for person in sorted(levels_of, key=lambda ref: _name(ref, names).lower()):
        levels = levels_of[person]
        if len(levels) > 1:
            out.append(
                HealthWarning(
                    PERSON_ON_TWO_LEVELS,
                    f"{_name(person, names)} is on call at levels {_levels_text(levels)} in the next {days} days: "
                    "escalating may reach the person who just missed the call.",
                    person,
                    level=levels[0],
                )
            )
    for ref in policy.schedule_refs():
        schedule = schedules.get(ref)
        rotation = _rotation_of_one(schedule, names) if schedule is not None else None
        if rotation is not None:
            out.append(rotation)
    return tuple(out)
