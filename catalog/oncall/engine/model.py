"""Plain data for schedules and escalation policies.

Everything here is frozen and hashable so that results can be cached and shared between
requests. Instants are timezone-aware datetimes; wall-clock values that only mean something in a
schedule's zone (layer starts, restriction windows) are naive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

TurnUnit = Literal["h", "d", "w"]
TargetKind = Literal["schedule", "user"]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, slots=True)
class Turn:
    """Length of one member's turn: ``count`` hours, days or weeks."""

    count: int
    unit: TurnUnit

    def __post_init__(self) -> None:
        if self.unit not in ("h", "d", "w"):
            raise ValueError(f"turn unit must be h, d or w, got {self.unit!r}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"turn count must be a positive integer, got {self.count!r}")

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    @property
    def days(self) -> int:
        """Whole days per turn for wall-clock turns; 0 for hour turns, which are absolute."""
        return {"h": 0, "d": 1, "w": 7}[self.unit] * self.count

    @property
    def nominal(self) -> timedelta:
        """Length ignoring DST, good enough for sizing look-ahead windows."""
        if self.unit == "h":
            return timedelta(hours=self.count)
        return timedelta(days=self.days)


def _minute_of_day(value: time) -> int:
    return value.hour * 60 + value.minute


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """Every day from ``start`` to ``end`` local time; ``end <= start`` crosses midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("restriction times are local to the schedule's zone and must be naive")
        if (self.start.hour, self.start.minute) == (self.end.hour, self.end.minute):
            raise ValueError("a restriction window needs different from and to times")

    @property
    def crosses_midnight(self) -> bool:
        return _minute_of_day(self.end) < _minute_of_day(self.start)

    def week_minutes(self) -> list[tuple[int, int]]:
        """The window as half-open minute-of-week intervals, split at the end of the week."""
        length = (_minute_of_day(self.end) - _minute_of_day(self.start)) % MINUTES_PER_DAY
        out: list[tuple[int, int]] = []
        for day in range(7):
            out.extend(_split_week(day * MINUTES_PER_DAY + _minute_of_day(self.start), length))
        return out

    def __str__(self) -> str:
        return f"daily {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Once a week from ``start_day start`` to ``end_day end`` (0 = Monday); may cross the week end."""

    start_day: int
    start: time
    end_day: int
    end: time

    def __post_init__(self) -> None:
        for day in (self.start_day, self.end_day):
            if not 0 <= day <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {day!r}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("restriction times are local to the schedule's zone and must be naive")
        if self.start_minute == self.end_minute:
            raise ValueError("a restriction window needs different from and to times")

    @property
    def start_minute(self) -> int:
        return self.start_day * MINUTES_PER_DAY + _minute_of_day(self.start)

    @property
    def end_minute(self) -> int:
        return self.end_day * MINUTES_PER_DAY + _minute_of_day(self.end)

    @property
    def crosses_week_end(self) -> bool:
        return self.end_minute < self.start_minute

    @property
    def length_minutes(self) -> int:
        return (self.end_minute - self.start_minute) % MINUTES_PER_WEEK

    def week_minutes(self) -> list[tuple[int, int]]:
        """The window as half-open minute-of-week intervals, split at the end of the week."""
        return _split_week(self.start_minute, self.length_minutes)

    def __str__(self) -> str:
        return f"weekly {WEEKDAYS[self.start_day]} {self.start:%H:%M}-{WEEKDAYS[self.end_day]} {self.end:%H:%M}"


def _split_week(start: int, length: int) -> list[tuple[int, int]]:
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(start, end)]
    return [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


Restriction = DailyWindow | WeeklyWindow


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation. ``start`` is the first handoff as a naive wall-clock time in the schedule's zone."""

    name: str
    start: datetime
    turn: Turn
    members: tuple[str, ...]
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise ValueError("a layer start is a local wall-clock time in the schedule's zone and must be naive")
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "restrictions", tuple(self.restrictions))
        if not self.members:
            raise ValueError(f"layer {self.name!r} needs at least one member")

    @property
    def source(self) -> str:
        return f"layer:{self.name}"


@dataclass(frozen=True, slots=True)
class Override:
    """``user`` is on call from ``start`` to ``end`` regardless of the layers."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "override start")
        _require_aware(self.end, "override end")
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


OVERRIDE_SOURCE = "override"


@dataclass(frozen=True, slots=True, init=False)
class Schedule:
    """Layers in priority order (later wins) plus overrides (later wins, above every layer)."""

    ref: str
    timezone: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def __init__(
        self,
        ref: str,
        timezone: ZoneInfo | str,
        layers: tuple[Layer, ...] | list[Layer],
        overrides: tuple[Override, ...] | list[Override] = (),
    ) -> None:
        # A hand-written __init__ lets callers pass a zone name and lists while the stored
        # value stays hashable and typed.
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "timezone", timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone))
        object.__setattr__(self, "layers", tuple(layers))
        object.__setattr__(self, "overrides", tuple(overrides))

    def members(self) -> frozenset[str]:
        """Everyone in any layer's rotation (not override users)."""
        return frozenset(member for layer in self.layers for member in layer.members)


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    ref: str

    def __post_init__(self) -> None:
        if self.kind not in ("schedule", "user"):
            raise ValueError(f"target kind must be schedule or user, got {self.kind!r}")


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """``delay_minutes`` is how long this level has to acknowledge before the next level is reached."""

    delay_minutes: int
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.delay_minutes < 0:
            raise ValueError("delay_minutes must not be negative")


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """``repeat`` is how many more times the whole chain is walked when nobody acknowledges."""

    ref: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if self.repeat < 0:
            raise ValueError("repeat must not be negative")

    def schedule_refs(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for level in self.levels:
            for target in level.targets:
                if target.kind == "schedule":
                    seen.setdefault(target.ref, None)
        return tuple(seen)


# Results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A half-open span [start, end) of one timeline; ``user`` None is a gap.

    ``sources`` lists, in order, what put the user there ("layer:<name>" or "override"); a merged
    segment can have several when the same person continues through a layer change or override.
    """

    start: datetime
    end: datetime
    user: str | None
    sources: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Shift:
    """The merged stretch of the final schedule around an instant.

    ``start`` or ``end`` is None when the stretch reaches past the look-back or look-ahead horizon
    (90 days by default): "on call since before", "until further notice".
    """

    user: str
    start: datetime | None
    end: datetime | None
    source: str


@dataclass(frozen=True, slots=True)
class Handoff:
    """The next change of the final schedule; ``user`` None means a gap starts."""

    at: datetime
    user: str | None


@dataclass(frozen=True, slots=True)
class Coverage:
    percent: float
    covered: timedelta
    gaps: tuple[tuple[datetime, datetime], ...]
    longest_gap: timedelta


@dataclass(frozen=True, slots=True)
class LayerTimeline:
    name: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything a schedule page draws: each layer, the overrides and the final schedule."""

    layers: tuple[LayerTimeline, ...]
    overrides: tuple[Segment, ...]
    final: tuple[Segment, ...]
