"""How on-call is drawn: one colour per person, durations as people say them, and the schedule page's timeline and
coverage laid out from the engine's results. No queries: callers pass the people they loaded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from catalog.oncall.engine import Coverage, DailyWindow, Restriction, Segment, Timeline, WeeklyWindow, resolve

if TYPE_CHECKING:
    from catalog.oncall.loading import LoadedSchedule, Person

# Person colours (see colour_for): distinct, none of them the red that marks a gap, readable with white text (each at
# least 4.5:1 against white, WCAG AA for the small initials on avatars), colour-blind friendly enough in pairs.
GAP_RED: Final = "#d63939"
PALETTE: Final = (
    "#206bc4",
    "#237a35",
    "#c2410c",
    "#ae3ec9",
    "#0b7285",
    "#d6336c",
    "#5f3dc4",
    "#4a7c0b",
    "#1d6f5f",
    "#52606d",
    "#8a6200",
    "#a61e4d",
)


def colour_for(ref: str) -> str:
    """A person's colour wherever they are drawn (on-call cards, timelines, the home page): a hash of their lower-cased
    ref, so it survives page, week and member-order changes. Two people may share one of the 12 colours; timeline bars
    and avatars carry names or initials, so colour is never the only cue."""
    digest = hashlib.sha256(ref.lower().encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def distinct_colours(refs: Iterable[str]) -> dict[str, str]:
    """Colours for the people of one schedule, all different while there are no more people than colours: each
    keeps `colour_for` unless someone earlier (by ref) took it, and then takes the next free colour of the palette."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for ref in sorted({ref.lower() for ref in refs}):
        colour = colour_for(ref)
        if colour in taken and len(taken) < len(PALETTE):
            start = PALETTE.index(colour)
            colour = next(
                PALETTE[(start + step) % len(PALETTE)]
                for step in range(1, len(PALETTE))
                if PALETTE[(start + step) % len(PALETTE)] not in taken
            )
        taken.add(colour)
        out[ref] = colour
    return out


_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _hours(start: time, end: time) -> str:
    return f"{start:%H:%M}\u2013{end:%H:%M}"  # an en dash, as in print


def _day_list(days: list[int]) -> str:
    if days == [0, 1, 2, 3, 4]:
        return "weekdays"
    if days == [5, 6]:
        return "weekends"
    if len(days) == 7:
        return "every day"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{_DAYS[days[0]]} to {_DAYS[days[-1]]}"
    names = [f"{_DAYS[d]}s" for d in days]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def restriction_text(restrictions: Iterable[Restriction]) -> str:
    """When a layer puts people on call, as people say it: `weekdays 09:00-18:00`, `every day 22:00-06:00` (with an
    en dash), `Monday 09:00 to Friday 17:00`. Weekly windows within one day that share their hours are grouped."""
    phrases: list[str] = []
    same_day: dict[tuple[time, time], list[int]] = {}
    for window in restrictions:
        if isinstance(window, DailyWindow):
            phrases.append(f"every day {_hours(window.start, window.end)}")
        elif isinstance(window, WeeklyWindow):
            if window.start_day == window.end_day and window.end > window.start:
                same_day.setdefault((window.start, window.end), []).append(window.start_day)
            else:
                phrases.append(
                    f"{_DAYS[window.start_day]} {window.start:%H:%M} to {_DAYS[window.end_day]} {window.end:%H:%M}"
                )
    for (start, end), days in same_day.items():
        phrases.append(f"{_day_list(sorted(set(days)))} {_hours(start, end)}")
    if len(phrases) <= 1:
        return "".join(phrases)
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def human_duration(value: timedelta) -> str:
    """`2 d 15 h`, `3 h 20 min`, `45 min`: gap lengths as people say them."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins and not days else ""]
    return " ".join(part for part in parts if part) or "0 min"


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of `day` in `zone` (the next valid instant when midnight does not exist)."""
    return resolve(datetime.combine(day, time(0, 0)), zone)


# -- the schedule page's timeline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One span on a timeline row, positioned in percent of the row."""

    start: datetime
    end: datetime
    person: Person | None
    left: float
    width: float
    colour: str
    source: str = ""


@dataclass(frozen=True)
class TimelineRow:
    label: str
    kind: str  # "layer", "overrides" or "final"
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class DayMark:
    left: float
    weekday: str
    label: str
    weekend: bool


@dataclass(frozen=True)
class TimelineView:
    schedule: LoadedSchedule
    start: datetime
    end: datetime
    days: int
    rows: tuple[TimelineRow, ...]
    marks: tuple[DayMark, ...]
    legend: tuple[tuple[Person, str, float], ...]
    gaps: tuple[tuple[datetime, datetime], ...]
    now_left: float | None
    people: Mapping[str, Person]
    colours: Mapping[str, str] = field(default_factory=dict)

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.schedule.zone).date()


def timeline_refs(drawn: Timeline) -> set[str]:
    """Everyone a drawn timeline shows, in any row."""
    segments = [*drawn.final, *drawn.overrides, *(s for layer in drawn.layers for s in layer.segments)]
    return {s.user for s in segments if s.user}


def timeline_view(
    *,
    loaded: LoadedSchedule,
    drawn: Timeline,
    first_day: date,
    days: int,
    people: Mapping[str, Person],
    now: datetime,
) -> TimelineView:
    """The timeline as the schedule page draws it: a row per layer, one for overrides and the final schedule, from
    local midnight of `first_day` in the schedule's zone for `days` days. `people` holds everyone in it and the
    schedule's members."""
    assert loaded.schedule is not None
    zone = loaded.zone
    begin, finish = day_start(first_day, zone), day_start(first_day + timedelta(days=days), zone)
    span = (finish - begin).total_seconds()

    def pos(at: datetime) -> float:
        return round(100.0 * (at - begin).total_seconds() / span, 4)

    refs = timeline_refs(drawn) | set(loaded.schedule.members())
    directory = {ref: people[ref] for ref in refs}
    # A person's usual colour (as on on-call cards and the home page) unless someone else in this schedule has it.
    colours = distinct_colours(refs)

    def bars(segments: Iterable[Segment], *, gaps: bool) -> tuple[Bar, ...]:
        return tuple(
            Bar(
                segment.start,
                segment.end,
                directory[segment.user] if segment.user else None,
                pos(segment.start),
                max(pos(segment.end) - pos(segment.start), 0.0),
                colours[segment.user] if segment.user else "",
                ", ".join(segment.sources),
            )
            for segment in segments
            if segment.user is not None or gaps
        )

    rows = [TimelineRow(layer.name, "layer", bars(layer.segments, gaps=False)) for layer in drawn.layers]
    rows.append(TimelineRow("Overrides", "overrides", bars(drawn.overrides, gaps=False)))
    rows.append(TimelineRow("Final schedule", "final", bars(drawn.final, gaps=True)))
    marks = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        marks.append(DayMark(pos(day_start(day, zone)), day.strftime("%a"), f"{day.day} {day:%b}", day.weekday() >= 5))
    hours: dict[str, float] = {}
    for segment in drawn.final:
        if segment.user:
            hours[segment.user] = hours.get(segment.user, 0.0) + segment.duration.total_seconds() / 3600
    legend_refs = sorted(refs, key=lambda ref: directory[ref].name.lower())
    return TimelineView(
        schedule=loaded,
        start=begin,
        end=finish,
        days=days,
        rows=tuple(rows),
        marks=tuple(marks),
        legend=tuple((directory[ref], colours[ref], round(hours.get(ref, 0.0), 1)) for ref in legend_refs),
        gaps=tuple((s.start, s.end) for s in drawn.final if s.user is None),
        now_left=pos(now) if begin <= now < finish else None,
        people=directory,
        colours=colours,
    )


# -- coverage -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageView:
    start: datetime
    end: datetime
    days: int
    percent: float
    gaps: tuple[tuple[datetime, datetime], ...]
    longest_gap: timedelta
    balance: tuple[tuple[Person, float, float], ...]  # person, hours, share of covered time (0..100)

    @property
    def longest_gap_text(self) -> str:
        return human_duration(self.longest_gap)


def coverage_view(
    *,
    result: Coverage,
    totals: Mapping[str, timedelta],
    start: datetime,
    days: int,
    people: Mapping[str, Person],
) -> CoverageView:
    """Coverage, gaps and hours per person (most hours first) from the engine's `coverage` and `balance`."""
    covered = sum((spent.total_seconds() for spent in totals.values()), 0.0) or 1.0
    rows = sorted(
        (
            (people[ref], spent.total_seconds() / 3600, 100 * spent.total_seconds() / covered)
            for ref, spent in totals.items()
        ),
        key=lambda row: -row[1],
    )
    return CoverageView(
        start,
        start + timedelta(days=days),
        days,
        round(result.percent, 2),
        result.gaps,
        result.longest_gap,
        tuple((p, round(h, 1), round(s, 1)) for p, h, s in rows),
    )
