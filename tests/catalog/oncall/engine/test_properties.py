"""Invariants of the final schedule across time zones, DST edges, restrictions and overrides."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalog.oncall.engine import (
    DailyWindow,
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Override,
    Schedule,
    Target,
    Turn,
    WeeklyWindow,
    balance,
    coverage,
    next_handoff,
    on_call_at,
    policy_now,
    render,
    render_layer,
    resolve,
)
from catalog.oncall.engine.spec import _windows_overlap
from tests.catalog.oncall.engine.builders import ZONES, shift_at

PEOPLE = tuple(f"user:default/{name}" for name in ("alice", "bob", "carol", "dave", "erin"))
# Local start times around the usual DST switch hours, so gaps and overlaps come up often.
CLOCKS = st.sampled_from([time(0, 0), time(1, 30), time(2, 0), time(2, 30), time(3, 0), time(9, 0), time(17, 45)])

zones = st.sampled_from(ZONES)
instants = st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 1), timezones=st.just(UTC))
local_starts = st.builds(
    datetime.combine, st.dates(min_value=datetime(2025, 9, 1).date(), max_value=datetime(2026, 12, 1).date()), CLOCKS
)
turns = st.builds(Turn, st.integers(min_value=1, max_value=3), st.sampled_from(["h", "d", "w"]))
members = st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4).map(tuple)


@st.composite
def restrictions(draw: st.DrawFn) -> tuple[DailyWindow | WeeklyWindow, ...]:
    out: list[DailyWindow | WeeklyWindow] = []
    for _ in range(draw(st.integers(0, 2))):
        start, end = draw(CLOCKS), draw(CLOCKS)
        if draw(st.booleans()):
            assume(start != end)
            window: DailyWindow | WeeklyWindow = DailyWindow(start, end)
        else:
            first, last = draw(st.integers(0, 6)), draw(st.integers(0, 6))
            assume((first, start) != (last, end))
            window = WeeklyWindow(first, start, last, end)
        assume(not any(_windows_overlap(window, other) for other in out))
        out.append(window)
    return tuple(out)


@st.composite
def layers(draw: st.DrawFn, *, restricted: bool = True) -> Layer:
    return Layer(
        name=f"l{draw(st.integers(0, 999))}",
        start=draw(local_starts),
        turn=draw(turns),
        members=draw(members),
        restrictions=draw(restrictions()) if restricted else (),
    )


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = draw(instants)
    length = draw(st.integers(min_value=1, max_value=72 * 60))
    return Override(draw(st.sampled_from(PEOPLE)), start, start + timedelta(minutes=length))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    drawn = draw(st.lists(layers(), min_size=1, max_size=3))
    # Layer names must differ for the sources to be meaningful.
    named = [Layer(f"layer-{i}", x.start, x.turn, x.members, x.restrictions) for i, x in enumerate(drawn)]
    return Schedule("schedule:default/p", draw(zones), named, draw(st.lists(overrides(), max_size=3)))


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = draw(instants)
    return start, start + timedelta(minutes=draw(st.integers(min_value=1, max_value=21 * 24 * 60)))


@settings(max_examples=150, deadline=None)
@given(schedules(), ranges())
def test_render_covers_the_range_exactly_with_merged_segments(schedule, window):
    start, end = window
    segments = render(schedule, start, end)
    assert segments[0].start == start
    assert segments[-1].end == end
    for before, after in pairwise(segments):
        assert before.end == after.start
        assert before.user != after.user
    assert all(segment.start < segment.end for segment in segments)
    assert all(segment.start.tzinfo is UTC for segment in segments)


@settings(max_examples=150, deadline=None)
@given(schedules(), ranges(), st.integers(min_value=0))
def test_on_call_at_agrees_with_render_at_any_instant(schedule, window, offset):
    start, end = window
    t = start + timedelta(microseconds=offset % ((end - start) // timedelta(microseconds=1)))
    segments = render(schedule, start, end)
    containing = next(segment for segment in segments if segment.start <= t < segment.end)
    shift = on_call_at(schedule, t)
    if containing.user is None:
        assert shift is None
        return
    assert shift is not None
    assert shift.user == containing.user
    assert shift.source in containing.sources
    # The shift may extend past the rendered range but never disagrees inside it.
    if containing.start > start:
        assert shift.start == containing.start
    if containing.end < end:
        assert shift.end == containing.end


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_overrides_win_over_every_layer(schedule, t):
    active = [override for override in schedule.overrides if override.start <= t < override.end]
    shift = on_call_at(schedule, t)
    if active:
        assert shift is not None
        assert shift.user == active[-1].user
        assert shift.source == "override"
    else:
        assert shift is None or shift.source.startswith("layer:")


@settings(max_examples=150, deadline=None)
@given(zones, st.lists(layers(restricted=False), min_size=1, max_size=3), instants)
def test_an_unrestricted_layer_leaves_no_gaps_after_its_start(zone, drawn, t):
    schedule = Schedule("schedule:default/p", zone, drawn)
    first = min(resolve(layer.start, ZoneInfo(zone)) for layer in drawn)
    assume(t > first)
    segments = render(schedule, t, t + timedelta(days=10))
    assert all(segment.user is not None for segment in segments)
    assert on_call_at(schedule, t) is not None
    assert on_call_at(schedule, first - timedelta(seconds=1)) is None


@settings(max_examples=150, deadline=None)
@given(schedules(), ranges())
def test_coverage_is_a_percentage_of_covered_time(schedule, window):
    start, end = window
    result = coverage(schedule, start, end)
    assert 0.0 <= result.percent <= 100.0
    assert abs(result.percent - 100 * (result.covered / (end - start))) < 1e-9
    gap_time = sum((gap_end - gap_start for gap_start, gap_end in result.gaps), timedelta())
    assert result.covered + gap_time == end - start
    assert result.longest_gap == max((e - s for s, e in result.gaps), default=timedelta(0))


@settings(max_examples=150, deadline=None)
@given(schedules(), ranges())
def test_balance_sums_to_covered_time(schedule, window):
    start, end = window
    totals = balance(schedule, start, end)
    assert sum(totals.values(), timedelta()) == coverage(schedule, start, end).covered
    assert all(value > timedelta(0) for value in totals.values())


@settings(max_examples=150, deadline=None)
@given(schedules(), instants)
def test_next_handoff_is_the_first_change_after_t(schedule, t):
    handoff = next_handoff(schedule, t)
    current = on_call_at(schedule, t)
    if handoff is None:
        segments = render(schedule, t, t + timedelta(days=90))
        assert len(segments) == 1
        return
    assert handoff.at > t
    segments = render(schedule, t, handoff.at + timedelta(seconds=1))
    assert len(segments) == 2
    assert segments[0].user == (current.user if current else None)
    assert segments[1].user == handoff.user
    if current is not None:
        assert current.end == handoff.at


@settings(max_examples=150, deadline=None)
@given(st.lists(schedules(), min_size=1, max_size=3), instants)
def test_each_level_yields_exactly_one_person_or_a_gap(drawn, t):
    refs = [f"schedule:default/s{i}" for i in range(len(drawn))]
    by_ref = {ref: Schedule(ref, s.timezone, s.layers, s.overrides) for ref, s in zip(refs, drawn, strict=True)}
    policy = EscalationPolicy(
        "escalationpolicy:default/p", tuple(EscalationLevel(5, (Target("schedule", ref),)) for ref in refs)
    )
    for status, ref in zip(policy_now(policy, by_ref, t), refs, strict=True):
        shift = on_call_at(by_ref[ref], t)
        if status.gap:
            assert status.on_call == ()
            assert shift is None
        else:
            assert shift is not None
            assert len(status.on_call) == 1
            assert status.on_call[0].user_ref == shift.user
            assert status.on_call[0].until == shift.end
        for upcoming in status.next:
            assert upcoming.start > t
            assert shift_at(by_ref[ref], upcoming.start).user == upcoming.user_ref


@settings(max_examples=150, deadline=None)
@given(zones, local_starts, st.sampled_from(["d", "w"]), st.integers(1, 2), instants)
def test_day_and_week_handoffs_keep_their_local_wall_clock_time(zone, start, unit, count, t):
    tz = ZoneInfo(zone)
    layer = Layer("x", start, Turn(count, unit), PEOPLE[:2])
    schedule = Schedule("schedule:default/p", zone, [layer])
    for segment in render_layer(schedule, 0, t, t + timedelta(days=30))[1:]:
        wall = segment.start.astimezone(tz)
        if wall.time() != start.time():
            # Only a handoff that fell into a DST gap may move, and then to the first valid instant.
            nominal = datetime.combine(wall.date(), start.time(), tzinfo=tz)
            assert nominal.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != nominal.replace(tzinfo=None)
            assert (segment.start - timedelta(seconds=1)).astimezone(tz).utcoffset() != wall.utcoffset()


@settings(max_examples=150, deadline=None)
@given(zones, local_starts, st.integers(1, 12), instants)
def test_hour_handoffs_are_a_fixed_number_of_seconds_apart(zone, start, hours, t):
    schedule = Schedule("schedule:default/p", zone, [Layer("x", start, Turn(hours, "h"), PEOPLE[:2])])
    segments = render_layer(schedule, 0, t, t + timedelta(days=5))
    for segment in segments[1:-1]:
        assert segment.duration == timedelta(hours=hours)


@settings(max_examples=150, deadline=None)
@given(schedules(), ranges(), st.integers(min_value=1))
def test_rendering_in_two_pieces_gives_the_same_schedule(schedule, window, cut):
    # Point queries render small windows around an instant, so the answer must not depend on them.
    start, end = window
    middle = start + timedelta(microseconds=1 + cut % ((end - start) // timedelta(microseconds=1) - 1 or 1))
    assume(start < middle < end)
    whole = [(segment.start, segment.end, segment.user) for segment in render(schedule, start, end)]
    joined: list[tuple[datetime, datetime, str | None]] = []
    for segment in render(schedule, start, middle) + render(schedule, middle, end):
        if joined and joined[-1][2] == segment.user:
            joined[-1] = (joined[-1][0], segment.end, segment.user)
        else:
            joined.append((segment.start, segment.end, segment.user))
    assert joined == whole
