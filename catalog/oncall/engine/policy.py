"""Escalation policies on top of the final schedules: who is on call now at each level, and how ready a team is."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .engine import (
    HORIZON,
    ScheduleStatus,
    balance_of,
    coverage_of,
    covered_intervals,
    max_share,
    render,
    schedule_status,
)
from .model import EscalationPolicy, Schedule
from .refs import display_name


@dataclass(frozen=True, slots=True)
class OnCall:
    """Someone on call at a level. ``start``/``until`` are None for a user target (always on call)
    or when the shift reaches past the look-back/look-ahead horizon."""

    user_ref: str
    start: datetime | None
    until: datetime | None
    schedule_ref: str | None


@dataclass(frozen=True, slots=True)
class Next:
    """The next person a schedule target puts on call, and when (gaps in between are skipped)."""

    user_ref: str
    start: datetime
    schedule_ref: str


@dataclass(frozen=True, slots=True)
class LevelStatus:
    """One escalation level at one instant; ``level`` is 1-based and ``gap`` means nobody is on call."""

    level: int
    delay_minutes: int
    on_call: tuple[OnCall, ...]
    next: tuple[Next, ...]
    gap: bool
    notes: tuple[str, ...] = ()


def policy_now(
    policy: EscalationPolicy,
    schedules: Mapping[str, Schedule],
    t: datetime,
    *,
    cache: MutableMapping[str, ScheduleStatus] | None = None,
    horizon: timedelta = HORIZON,
) -> list[LevelStatus]:
    """Every level of ``policy`` at ``t``: who is on call, until when, and who is next.

    ``schedules`` maps schedule refs to schedules; a target missing from it is reported as a gap
    with a note rather than raising, because an on-call page must render even when the catalog is
    half-synced. Pass the same ``cache`` dict when evaluating many policies at the same ``t`` so a
    schedule shared between them is computed once.
    """
    statuses: MutableMapping[str, ScheduleStatus] = {} if cache is None else cache
    out: list[LevelStatus] = []
    for number, level in enumerate(policy.levels, start=1):
        on_call: list[OnCall] = []
        upcoming: list[Next] = []
        notes: list[str] = []
        for target in level.targets:
            if target.kind == "user":
                on_call.append(OnCall(target.ref, None, None, None))
                continue
            schedule = schedules.get(target.ref)
            if schedule is None:
                notes.append(f"{target.ref} is not in the catalog, so nobody from it is on call.")
                continue
            status = statuses.get(target.ref)
            if status is None:
                status = schedule_status(schedule, t, horizon=horizon)
                statuses[target.ref] = status
            if status.current is not None:
                shift = status.current
                on_call.append(OnCall(shift.user, shift.start, shift.end, target.ref))
            if status.upcoming is not None and status.upcoming.user is not None:
                upcoming.append(Next(status.upcoming.user, status.upcoming.at, target.ref))
        out.append(
            LevelStatus(
                level=number,
                delay_minutes=level.delay_minutes,
                on_call=tuple(on_call),
                next=tuple(upcoming),
                gap=not on_call,
                notes=tuple(notes),
            )
        )
    return out


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _people(level: LevelStatus, names: Mapping[str, str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for entry in level.on_call:
        label = (names or {}).get(entry.user_ref) or display_name(entry.user_ref)
        seen.setdefault(label, None)
    return list(seen)


def paging_summary(levels: Sequence[LevelStatus], *, names: Mapping[str, str] | None = None) -> str:
    """One or two plain sentences saying who is on call first, e.g.
    "Level 1 has a gap right now, so level 2 (Alice) is first in line."

    ``names`` maps user refs to display names; refs without one are shown as a guessed name.
    """
    if not levels:
        return "This policy has no levels, so nobody is on call."
    first = next((level for level in levels if not level.gap), None)
    if first is None:
        return "No level has anyone on call right now."
    people = _people(first, names)
    if first is levels[0]:
        verb = "is" if len(people) == 1 else "are"
        sentence = f"Level {first.level}: {_join(people)} {verb} on call."
    else:
        skipped = [str(level.level) for level in levels if level.level < first.level]
        lead = f"Level {skipped[0]} has a gap" if len(skipped) == 1 else f"Levels {_join(skipped)} have gaps"
        sentence = f"{lead} right now, so level {first.level} ({_join(people)}) is first in line."
    later_gaps = [str(level.level) for level in levels if level.level > first.level and level.gap]
    if len(later_gaps) == 1:
        sentence += f" Level {later_gaps[0]} also has a gap."
    elif later_gaps:
        sentence += f" Levels {_join(later_gaps)} also have gaps."
    return sentence


# Readiness -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Readiness:
    """Facts about a team's on-call set-up over the next ``window_days``, for scorecards.

    - ``levels_with_distinct_people``: levels whose set of people on call over the window is
      non-empty and differs from every other level's set (escalating to a copy of level 1 does
      not reach anyone new).
    - ``coverage_percent`` / ``longest_gap``: level 1, combined over its targets.
    - ``rotation_size``: distinct people in level 1's schedule layers plus level 1's user targets.
    - ``max_share``: the largest fraction (0..1) of level-1 on-call time held by one person.
    """

    has_policy: bool
    level_count: int
    levels_with_distinct_people: int
    coverage_percent: float
    longest_gap: timedelta
    rotation_size: int
    max_share: float
    window_days: int
    unknown_schedules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "has_policy": self.has_policy,
            "level_count": self.level_count,
            "levels_with_distinct_people": self.levels_with_distinct_people,
            "coverage_percent": self.coverage_percent,
            "longest_gap_seconds": int(self.longest_gap.total_seconds()),
            "rotation_size": self.rotation_size,
            "max_share": self.max_share,
            "window_days": self.window_days,
            "unknown_schedules": list(self.unknown_schedules),
        }


def readiness(
    policy: EscalationPolicy | None,
    schedules: Mapping[str, Schedule],
    now: datetime,
    days: int = 14,
) -> Readiness:
    if days < 1:
        raise ValueError("readiness needs a window of at least one day")
    end = now + timedelta(days=days)
    window = end - now
    if policy is None:
        return Readiness(False, 0, 0, 0.0, window, 0, 0.0, days)

    unknown: dict[str, None] = {}
    people_per_level: list[frozenset[str]] = []
    first_covered: list[tuple[datetime, datetime]] = []
    first_totals: dict[str, timedelta] = {}
    first_rotation: set[str] = set()
    for index, level in enumerate(policy.levels):
        people: set[str] = set()
        for target in level.targets:
            if target.kind == "user":
                people.add(target.ref)
                if index == 0:
                    first_covered.append((now, end))
                    first_totals[target.ref] = first_totals.get(target.ref, timedelta()) + window
                    first_rotation.add(target.ref)
                continue
            schedule = schedules.get(target.ref)
            if schedule is None:
                unknown.setdefault(target.ref, None)
                continue
            segments = render(schedule, now, end)
            people.update(segment.user for segment in segments if segment.user is not None)
            if index == 0:
                first_covered.extend(covered_intervals(schedule, now, end))
                for user, spent in balance_of(segments).items():
                    first_totals[user] = first_totals.get(user, timedelta()) + spent
                first_rotation.update(schedule.members())
        people_per_level.append(frozenset(people))

    distinct = sum(
        1
        for i, people in enumerate(people_per_level)
        if people and all(people != other for j, other in enumerate(people_per_level) if j != i)
    )
    level_one = coverage_of(first_covered, now, end)
    return Readiness(
        has_policy=True,
        level_count=len(policy.levels),
        levels_with_distinct_people=distinct,
        coverage_percent=level_one.percent,
        longest_gap=level_one.longest_gap,
        rotation_size=len(first_rotation),
        max_share=max_share(first_totals),
        window_days=days,
        unknown_schedules=tuple(unknown),
    )
