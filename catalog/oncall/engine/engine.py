"""The final schedule: who is on call when, computed arithmetically.

Turns are located by arithmetic from the layer start (wall-clock days for ``d``/``w`` turns,
absolute hours for ``h``), each layer becomes a list of pieces, and the final schedule is a sweep
over the union of all piece boundaries where later layers and then overrides paint over earlier
ones. Nothing steps through time minute by minute, so cost grows with the number of handoffs and
restriction windows in a range, not with its length.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .localtime import US_PER_HOUR, from_us, local_wall, resolve_us, to_us
from .model import (
    OVERRIDE_SOURCE,
    Coverage,
    DailyWindow,
    Handoff,
    Layer,
    LayerTimeline,
    Restriction,
    Schedule,
    Segment,
    Shift,
    Timeline,
)

HORIZON = timedelta(days=90)
"""How far on_call_at / next_handoff look back and ahead before answering "not within reach"."""

_ONE_US = timedelta(microseconds=1)

# (start_us, end_us, user, source): one stretch with a single cause.
_Piece = tuple[int, int, str | None, str | None]
# (start_us, end_us, user, sources): pieces merged by user.
_Span = tuple[int, int, str | None, tuple[str, ...]]
_Interval = tuple[int, int]


def _check_range(start: datetime, end: datetime) -> tuple[int, int]:
    a, b = to_us(start), to_us(end)
    if b <= a:
        raise ValueError(f"the end of a range must be after its start (start={start}, end={end})")
    return a, b


# Layers ----------------------------------------------------------------------------------------


def _turn_pieces(layer: Layer, zone: ZoneInfo, a: int, b: int) -> list[tuple[int, int, str]]:
    """Turns of ``layer`` clipped to [a, b); nothing before the layer's first handoff."""
    first = resolve_us(layer.start, zone)
    lo = max(a, first)
    if lo >= b:
        return []
    members = layer.members
    count = len(members)
    out: list[tuple[int, int, str]] = []
    if layer.turn.unit == "h":
        length = layer.turn.count * US_PER_HOUR
        k = (lo - first) // length
        s = first + k * length
        while s < b:
            e = s + length
            out.append((max(s, lo), min(e, b), members[k % count]))
            k += 1
            s = e
        return out

    step = timedelta(days=layer.turn.days)
    start = layer.start
    # Wall-clock arithmetic gets within one turn; the two loops fix up the DST hour around a
    # handoff, where the wall clock and the instant order can disagree.
    k = max(0, (local_wall(lo, zone) - start) // step)
    while k > 0 and resolve_us(start + k * step, zone) > lo:
        k -= 1
    while resolve_us(start + (k + 1) * step, zone) <= lo:
        k += 1
    s = resolve_us(start + k * step, zone)
    while s < b:
        e = resolve_us(start + (k + 1) * step, zone)
        out.append((max(s, lo), min(e, b), members[k % count]))
        k += 1
        s = e
    return out


def _window_intervals(restrictions: Iterable[Restriction], zone: ZoneInfo, a: int, b: int) -> list[_Interval]:
    """Restriction windows as sorted, merged instants overlapping [a, b), clipped to it."""
    first_day = local_wall(a, zone).date() - timedelta(days=1)
    last_day = local_wall(b, zone).date() + timedelta(days=1)
    raw: list[_Interval] = []
    for window in restrictions:
        if isinstance(window, DailyWindow):
            extra = timedelta(days=1 if window.crosses_midnight else 0)
            day = first_day - extra
            while day <= last_day:
                begin = datetime.combine(day, window.start)
                finish = datetime.combine(day + extra, window.end)
                raw.append((resolve_us(begin, zone), resolve_us(finish, zone)))
                day += timedelta(days=1)
        else:
            monday = first_day - timedelta(days=first_day.weekday() + 7)
            length = timedelta(minutes=window.length_minutes)
            offset = timedelta(days=window.start_day, hours=window.start.hour, minutes=window.start.minute)
            while monday <= last_day:
                begin = datetime.combine(monday, datetime.min.time()) + offset
                raw.append((resolve_us(begin, zone), resolve_us(begin + length, zone)))
                monday += timedelta(days=7)
    raw.sort()
    merged: list[_Interval] = []
    for s, e in raw:
        s, e = max(s, a), min(e, b)
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _intersect(turns: list[tuple[int, int, str]], windows: list[_Interval]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    j = 0
    n = len(windows)
    for s, e, user in turns:
        while j < n and windows[j][1] <= s:
            j += 1
        k = j
        while k < n and windows[k][0] < e:
            ws, we = windows[k]
            out.append((max(s, ws), min(e, we), user))
            k += 1
    return out


def _layer_pieces(layer: Layer, zone: ZoneInfo, a: int, b: int) -> list[tuple[int, int, str]]:
    turns = _turn_pieces(layer, zone, a, b)
    if not turns or not layer.restrictions:
        return turns
    # Windows only mask the rotation; they never shift it, so turns keep counting underneath.
    return _intersect(turns, _window_intervals(layer.restrictions, zone, turns[0][0], turns[-1][1]))


def _override_pieces(schedule: Schedule, a: int, b: int) -> list[_Piece]:
    out: list[_Piece] = []
    for override in schedule.overrides:
        s, e = max(to_us(override.start), a), min(to_us(override.end), b)
        if s < e:
            out.append((s, e, override.user, OVERRIDE_SOURCE))
    return out


# Final schedule --------------------------------------------------------------------------------


def _final_pieces(schedule: Schedule, a: int, b: int) -> list[_Piece]:
    """The final schedule over [a, b) as contiguous pieces (gaps included), one cause per piece."""
    zone = schedule.timezone
    painters: list[list[_Piece]] = []
    for layer in schedule.layers:
        label = layer.source
        contributed = _layer_pieces(layer, zone, a, b)
        if contributed:
            painters.append([(s, e, member, label) for s, e, member in contributed])
    # Overrides paint one at a time so a later one wins where they overlap.
    painters.extend([piece] for piece in _override_pieces(schedule, a, b))

    bounds_set = {a, b}
    for painter in painters:
        for s, e, _, _ in painter:
            bounds_set.add(s)
            bounds_set.add(e)
    bounds = sorted(bounds_set)
    slots = len(bounds) - 1
    users: list[str | None] = [None] * slots
    sources: list[str | None] = [None] * slots
    for painter in painters:
        for s, e, who, why in painter:
            for i in range(bisect_left(bounds, s), bisect_left(bounds, e)):
                users[i] = who
                sources[i] = why

    out: list[_Piece] = []
    for i in range(slots):
        user, source = users[i], sources[i]
        if out and out[-1][2] == user and out[-1][3] == source:
            out[-1] = (out[-1][0], bounds[i + 1], user, source)
        else:
            out.append((bounds[i], bounds[i + 1], user, source))
    return out


def _merge_by_user(pieces: Iterable[_Piece]) -> list[_Span]:
    out: list[_Span] = []
    for s, e, user, source in pieces:
        if out and out[-1][2] == user and out[-1][1] == s:
            prev = out[-1]
            prev_sources = prev[3]
            if source is not None and source not in prev_sources:
                prev_sources = (*prev_sources, source)
            out[-1] = (prev[0], e, user, prev_sources)
        else:
            out.append((s, e, user, (source,) if source is not None else ()))
    return out


def _segment(span: _Span) -> Segment:
    return Segment(start=from_us(span[0]), end=from_us(span[1]), user=span[2], sources=span[3])


def render(schedule: Schedule, start: datetime, end: datetime) -> list[Segment]:
    """The final schedule over [start, end): contiguous segments covering it exactly.

    Gaps are segments with ``user`` None; neighbouring stretches of the same person are merged
    even when their causes differ (``sources`` lists them).
    """
    a, b = _check_range(start, end)
    return [_segment(span) for span in _merge_by_user(_final_pieces(schedule, a, b))]


def render_layer(schedule: Schedule, layer_index: int, start: datetime, end: datetime) -> list[Segment]:
    """What one layer contributes over [start, end), before other layers and overrides; no gap segments."""
    a, b = _check_range(start, end)
    layer = schedule.layers[layer_index]
    pieces = _layer_pieces(layer, schedule.timezone, a, b)
    spans = _merge_by_user((s, e, user, layer.source) for s, e, user in pieces)
    return [_segment(span) for span in spans]


def render_overrides(schedule: Schedule, start: datetime, end: datetime) -> list[Segment]:
    """Overrides clipped to [start, end), in start order; they may overlap (the later one wins)."""
    a, b = _check_range(start, end)
    pieces = sorted(_override_pieces(schedule, a, b), key=lambda piece: piece[0])
    return [Segment(from_us(s), from_us(e), user, (OVERRIDE_SOURCE,)) for s, e, user, _ in pieces]


def timeline(schedule: Schedule, start: datetime, end: datetime) -> Timeline:
    return Timeline(
        layers=tuple(
            LayerTimeline(layer.name, tuple(render_layer(schedule, i, start, end)))
            for i, layer in enumerate(schedule.layers)
        ),
        overrides=tuple(render_overrides(schedule, start, end)),
        final=tuple(render(schedule, start, end)),
    )


# Point queries ---------------------------------------------------------------------------------


class _Around:
    """The final schedule around an instant, rendered in windows that grow until the answers are known.

    The window starts at about one turn of the shortest layer, which is where the next change
    usually is, and doubles up to the horizon; forward and backward grow independently.
    """

    __slots__ = ("current", "current_source", "end", "next_change", "next_user", "start")

    def __init__(self, schedule: Schedule, t: int, horizon: timedelta, *, need_start: bool) -> None:
        limit = horizon // _ONE_US
        shortest = min((layer.turn.nominal for layer in schedule.layers), default=timedelta(days=1))
        span = max(min(max(shortest, timedelta(days=1)), horizon) // _ONE_US, 1)

        fwd = span
        while True:
            ahead = _final_pieces(schedule, t, t + fwd)
            user = ahead[0][2]
            hi = 0
            while hi + 1 < len(ahead) and ahead[hi + 1][2] == user:
                hi += 1
            seg_end = ahead[hi][1]
            next_user = next(((p[0], p[2]) for p in ahead[hi + 1 :] if p[2] is not None), None)
            if (seg_end < t + fwd and next_user is not None) or fwd >= limit:
                break
            fwd = min(fwd * 2, limit)

        seg_start: int | None = t
        if need_start and user is not None:
            # Nothing can be on call before the earliest layer start or override, so the search
            # never needs to reach past it.
            earliest = _earliest_us(schedule)
            back = span
            while t > earliest:
                behind = _final_pieces(schedule, t - back, t)
                lo = len(behind)
                while lo > 0 and behind[lo - 1][2] == user:
                    lo -= 1
                seg_start = behind[lo][0] if lo < len(behind) else t
                if seg_start > t - back or t - back <= earliest:
                    break
                if back >= limit:
                    seg_start = None
                    break
                back = min(back * 2, limit)

        self.current = user
        self.current_source = ahead[0][3]
        self.start = seg_start
        self.end = None if seg_end == t + fwd else seg_end
        self.next_change = None if self.end is None else (seg_end, ahead[hi + 1][2])
        self.next_user = next_user


def _earliest_us(schedule: Schedule) -> int:
    zone = schedule.timezone
    starts = [resolve_us(layer.start, zone) for layer in schedule.layers]
    starts.extend(to_us(override.start) for override in schedule.overrides)
    return min(starts, default=0)


def on_call_at(schedule: Schedule, t: datetime, *, horizon: timedelta = HORIZON) -> Shift | None:
    """Who the final schedule has on call at ``t``, or None for a gap.

    The shift's bounds are those of the merged stretch of that person containing ``t``; a bound
    further away than ``horizon`` is reported as None.
    """
    return schedule_status(schedule, t, horizon=horizon).current


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """One schedule at one instant: who is on call, the next change, and the next person on call.

    ``upcoming`` skips gaps: after "alice, then a gap, then bob" it is bob (with his start), while
    ``handoff`` is the start of the gap.
    """

    current: Shift | None
    handoff: Handoff | None
    upcoming: Handoff | None


def schedule_status(schedule: Schedule, t: datetime, *, horizon: timedelta = HORIZON) -> ScheduleStatus:
    around = _Around(schedule, to_us(t), horizon, need_start=True)
    current = None
    if around.current is not None:
        current = Shift(
            user=around.current,
            start=None if around.start is None else from_us(around.start),
            end=None if around.end is None else from_us(around.end),
            source=around.current_source or "",
        )
    handoff = None
    if around.next_change is not None:
        handoff = Handoff(at=from_us(around.next_change[0]), user=around.next_change[1])
    upcoming = None
    if around.next_user is not None:
        upcoming = Handoff(at=from_us(around.next_user[0]), user=around.next_user[1])
    return ScheduleStatus(current=current, handoff=handoff, upcoming=upcoming)


def next_handoff(schedule: Schedule, t: datetime, *, horizon: timedelta = HORIZON) -> Handoff | None:
    """The first change of the final schedule strictly after ``t`` within ``horizon``, else None."""
    around = _Around(schedule, to_us(t), horizon, need_start=False)
    if around.next_change is None:
        return None
    at, user = around.next_change
    return Handoff(at=from_us(at), user=user)


# Aggregates ------------------------------------------------------------------------------------


def covered_intervals(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Where anybody at all is on call in [start, end), merged across people."""
    a, b = _check_range(start, end)
    merged: list[_Interval] = []
    for s, e, user, _ in _final_pieces(schedule, a, b):
        if user is None:
            continue
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return [(from_us(s), from_us(e)) for s, e in merged]


def coverage_of(covered: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> Coverage:
    """Coverage of [start, end) given where somebody is on call (any order, may overlap)."""
    a, b = _check_range(start, end)
    intervals = sorted((max(to_us(s), a), min(to_us(e), b)) for s, e in covered)
    merged: list[_Interval] = []
    for s, e in intervals:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    gaps: list[_Interval] = []
    cursor = a
    for s, e in merged:
        if s > cursor:
            gaps.append((cursor, s))
        cursor = e
    if cursor < b:
        gaps.append((cursor, b))
    covered_us = sum(e - s for s, e in merged)
    return Coverage(
        percent=100.0 * covered_us / (b - a),
        covered=timedelta(microseconds=covered_us),
        gaps=tuple((from_us(s), from_us(e)) for s, e in gaps),
        longest_gap=timedelta(microseconds=max((e - s for s, e in gaps), default=0)),
    )


def coverage(schedule: Schedule, start: datetime, end: datetime) -> Coverage:
    """How much of [start, end) has somebody on call, and where the gaps are."""
    return coverage_of(((s.start, s.end) for s in render(schedule, start, end) if s.user), start, end)


def balance(schedule: Schedule, start: datetime, end: datetime) -> dict[str, timedelta]:
    """Time on call per person in [start, end) in the final schedule; people with none are absent."""
    return balance_of(render(schedule, start, end))


def balance_of(segments: Iterable[Segment]) -> dict[str, timedelta]:
    totals: dict[str, timedelta] = {}
    for segment in segments:
        if segment.user is not None:
            totals[segment.user] = totals.get(segment.user, timedelta()) + segment.duration
    return totals


def max_share(totals: dict[str, timedelta]) -> float:
    """The largest fraction (0..1) of on-call time held by one person; 0.0 when nobody is on call."""
    total = sum(totals.values(), timedelta())
    if not total:
        return 0.0
    return max(totals.values()) / total
