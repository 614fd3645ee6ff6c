from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from catalog.oncall.engine import (
    Handoff,
    Segment,
    Shift,
    balance,
    coverage,
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
from tests.catalog.oncall.engine.builders import at, daily, layer, override, schedule, shift_at, u, utc, weekly


def handoffs(segments: list[Segment]) -> list[tuple[object, str | None]]:
    return [(segment.start, segment.user) for segment in segments]


# Golden 1: two layers, the upper one restricted -------------------------------------------------


def test_golden_restricted_upper_layer_shows_the_lower_layer_outside_its_window():
    # Berlin in January is UTC+1.
    # weekly: alice Mon 5 Jan 09:00 -> Mon 12 Jan 09:00, then bob.
    # days: turn k starts 5 Jan 09:00 + k days; carol on even k, dave on odd k:
    #   k=3 Thu 8 Jan 09:00 dave, k=4 Fri 9 Jan 09:00 carol, k=7 Mon 12 Jan 09:00 dave.
    # days only counts Mon 09:00 -> Fri 17:00, so from Fri 17:00 to Mon 09:00 the weekly layer shows.
    s = schedule(
        "Europe/Berlin",
        layer("weekly", "2026-01-05T09:00", "1w", ["alice", "bob"]),
        layer("days", "2026-01-05T09:00", "1d", ["carol", "dave"], (weekly("mon 09:00", "fri 17:00"),)),
    )
    segments = render(s, at("Europe/Berlin", 2026, 1, 9), at("Europe/Berlin", 2026, 1, 13))
    assert [(seg.start, seg.end, seg.user) for seg in segments] == [
        (utc(2026, 1, 8, 23), utc(2026, 1, 9, 8), u("dave")),  # Fri 00:00-09:00 local, k=3
        (utc(2026, 1, 9, 8), utc(2026, 1, 9, 16), u("carol")),  # Fri 09:00-17:00, k=4
        (utc(2026, 1, 9, 16), utc(2026, 1, 12, 8), u("alice")),  # weekend: weekly layer, week 0
        (utc(2026, 1, 12, 8), utc(2026, 1, 12, 23), u("dave")),  # Mon 09:00 on: k=7 hides bob
    ]
    assert [seg.sources for seg in segments] == [("layer:days",), ("layer:days",), ("layer:weekly",), ("layer:days",)]
    # 9 h + 15 h dave, 8 h carol, 64 h alice (Fri 16:00Z -> Mon 08:00Z); bob is hidden entirely.
    assert balance(s, utc(2026, 1, 8, 23), utc(2026, 1, 12, 23)) == {
        u("dave"): timedelta(hours=24),
        u("carol"): timedelta(hours=8),
        u("alice"): timedelta(hours=64),
    }


def test_render_layer_shows_one_layers_own_turns_clipped_by_its_windows():
    s = schedule(
        "Europe/Berlin",
        layer("weekly", "2026-01-05T09:00", "1w", ["alice", "bob"]),
        layer("days", "2026-01-05T09:00", "1d", ["carol", "dave"], (weekly("mon 09:00", "fri 17:00"),)),
    )
    days = render_layer(s, 1, utc(2026, 1, 9), utc(2026, 1, 13))
    assert [(seg.start, seg.end, seg.user) for seg in days] == [
        (utc(2026, 1, 9), utc(2026, 1, 9, 8), u("dave")),
        (utc(2026, 1, 9, 8), utc(2026, 1, 9, 16), u("carol")),
        (utc(2026, 1, 12, 8), utc(2026, 1, 13), u("dave")),
    ]
    weekly_layer = render_layer(s, 0, utc(2026, 1, 9), utc(2026, 1, 13))
    assert [(seg.start, seg.end, seg.user) for seg in weekly_layer] == [
        (utc(2026, 1, 9), utc(2026, 1, 12, 8), u("alice")),
        (utc(2026, 1, 12, 8), utc(2026, 1, 13), u("bob")),
    ]


# Golden 2: an override spanning a handoff -------------------------------------------------------


def override_across_handoff():
    # alice has week 0 (5 Jan 09:00 -> 12 Jan 09:00 Berlin), bob week 1. carol covers
    # Sun 11 Jan 18:00 -> Mon 12 Jan 12:00 local = 17:00Z -> 11:00Z, across the 08:00Z handoff.
    return schedule(
        "Europe/Berlin",
        layer("weekly", "2026-01-05T09:00", "1w", ["alice", "bob"]),
        overrides=(override("carol", utc(2026, 1, 11, 17), utc(2026, 1, 12, 11)),),
    )


def test_golden_override_spanning_a_handoff_hides_it():
    s = override_across_handoff()
    segments = render(s, utc(2026, 1, 10, 23), utc(2026, 1, 12, 23))
    assert [(seg.start, seg.end, seg.user, seg.sources) for seg in segments] == [
        (utc(2026, 1, 10, 23), utc(2026, 1, 11, 17), u("alice"), ("layer:weekly",)),
        (utc(2026, 1, 11, 17), utc(2026, 1, 12, 11), u("carol"), ("override",)),
        (utc(2026, 1, 12, 11), utc(2026, 1, 12, 23), u("bob"), ("layer:weekly",)),
    ]


def test_golden_override_spanning_a_handoff_point_queries():
    s = override_across_handoff()
    # 10:00 Berlin on Monday = 09:00Z, inside the override.
    assert on_call_at(s, utc(2026, 1, 12, 9)) == Shift(
        u("carol"), utc(2026, 1, 11, 17), utc(2026, 1, 12, 11), "override"
    )
    # At 07:30Z the layer's own handoff (08:00Z) is hidden, so the next change is the override's end.
    assert next_handoff(s, utc(2026, 1, 12, 7, 30)) == Handoff(utc(2026, 1, 12, 11), u("bob"))
    # alice's shift ends when the override starts; her shift started with the layer.
    assert on_call_at(s, utc(2026, 1, 8)) == Shift(u("alice"), utc(2026, 1, 5, 8), utc(2026, 1, 11, 17), "layer:weekly")


def test_later_override_wins_where_overrides_overlap():
    s = schedule(
        "UTC",
        layer("weekly", "2026-01-05T00:00", "1w", ["alice"]),
        overrides=(
            override("bob", utc(2026, 1, 6), utc(2026, 1, 8)),
            override("carol", utc(2026, 1, 7), utc(2026, 1, 9)),
        ),
    )
    assert [(seg.start, seg.user) for seg in render(s, utc(2026, 1, 6), utc(2026, 1, 10))] == [
        (utc(2026, 1, 6), u("bob")),
        (utc(2026, 1, 7), u("carol")),
        (utc(2026, 1, 9), u("alice")),
    ]
    overrides = render_overrides(s, utc(2026, 1, 6, 12), utc(2026, 1, 10))
    assert [(seg.start, seg.end, seg.user) for seg in overrides] == [
        (utc(2026, 1, 6, 12), utc(2026, 1, 8), u("bob")),
        (utc(2026, 1, 7), utc(2026, 1, 9), u("carol")),
    ]


def test_override_fills_a_gap_and_before_a_layer_starts():
    s = schedule(
        "UTC",
        layer("days", "2026-01-05T09:00", "1d", ["alice"], (daily("09:00", "17:00"),)),
        overrides=(override("bob", utc(2026, 1, 1), utc(2026, 1, 2)),),
    )
    assert on_call_at(s, utc(2026, 1, 1, 12)) == Shift(u("bob"), utc(2026, 1, 1), utc(2026, 1, 2), "override")
    assert on_call_at(s, utc(2026, 1, 5, 20)) is None


def test_same_person_across_layer_and_override_merges_into_one_segment():
    s = schedule(
        "UTC",
        layer("weekly", "2026-01-05T00:00", "1w", ["alice", "bob"]),
        overrides=(override("alice", utc(2026, 1, 12), utc(2026, 1, 13)),),
    )
    segments = render(s, utc(2026, 1, 5), utc(2026, 1, 14))
    assert [(seg.start, seg.end, seg.user, seg.sources) for seg in segments] == [
        (utc(2026, 1, 5), utc(2026, 1, 13), u("alice"), ("layer:weekly", "override")),
        (utc(2026, 1, 13), utc(2026, 1, 14), u("bob"), ("layer:weekly",)),
    ]
    shift = on_call_at(s, utc(2026, 1, 12, 6))
    assert shift == Shift(u("alice"), utc(2026, 1, 5), utc(2026, 1, 13), "override")


# Golden 4: a rotation that starts in the future -------------------------------------------------


def future_rotation():
    # 1 Jun 2026 09:00 New York is EDT (UTC-4) = 13:00Z.
    return schedule("America/New_York", layer("days", "2026-06-01T09:00", "1d", ["alice", "bob"]))


def test_golden_future_rotation_has_nobody_before_its_start():
    s = future_rotation()
    assert on_call_at(s, utc(2026, 5, 20)) is None
    assert on_call_at(s, utc(2026, 6, 1, 12, 59)) is None
    assert render(s, utc(2026, 5, 30), utc(2026, 6, 1, 13)) == [Segment(utc(2026, 5, 30), utc(2026, 6, 1, 13), None)]


def test_golden_future_rotation_next_handoff_is_its_start_to_the_first_member():
    s = future_rotation()
    assert next_handoff(s, utc(2026, 5, 20)) == Handoff(utc(2026, 6, 1, 13), u("alice"))
    status = schedule_status(s, utc(2026, 5, 20))
    assert status.current is None
    assert status.upcoming == Handoff(utc(2026, 6, 1, 13), u("alice"))
    # First member for exactly one day, then the second.
    assert on_call_at(s, utc(2026, 6, 1, 13)) == Shift(
        u("alice"), utc(2026, 6, 1, 13), utc(2026, 6, 2, 13), "layer:days"
    )


def test_next_handoff_beyond_the_horizon_is_none():
    s = future_rotation()
    # 1 Jan -> 1 Jun is 151 days, past the default 90-day horizon.
    assert next_handoff(s, utc(2026, 1, 1)) is None
    assert next_handoff(s, utc(2026, 1, 1), horizon=timedelta(days=200)) == Handoff(utc(2026, 6, 1, 13), u("alice"))


def test_single_member_rotation_has_open_ended_shift():
    s = schedule("UTC", layer("only", "2026-01-01T00:00", "1w", ["alice"]))
    # Started 80 days earlier (within the look-back horizon) and never changes.
    assert on_call_at(s, utc(2026, 3, 22)) == Shift(u("alice"), utc(2026, 1, 1), None, "layer:only")
    assert next_handoff(s, utc(2026, 3, 22)) is None
    # Half a year in, the start is beyond the horizon too.
    assert on_call_at(s, utc(2026, 7, 1)) == Shift(u("alice"), None, None, "layer:only")


def test_next_handoff_at_a_boundary_is_the_following_one():
    s = schedule("UTC", layer("days", "2026-01-05T09:00", "1d", ["alice", "bob"]))
    assert next_handoff(s, utc(2026, 1, 6, 9)) == Handoff(utc(2026, 1, 7, 9), u("alice"))
    assert on_call_at(s, utc(2026, 1, 6, 9)) == Shift(u("bob"), utc(2026, 1, 6, 9), utc(2026, 1, 7, 9), "layer:days")


def test_next_handoff_into_a_gap_reports_no_user_but_upcoming_skips_it():
    s = schedule("UTC", layer("days", "2026-01-05T09:00", "1d", ["alice", "bob"], (daily("09:00", "17:00"),)))
    assert next_handoff(s, utc(2026, 1, 5, 12)) == Handoff(utc(2026, 1, 5, 17), None)
    status = schedule_status(s, utc(2026, 1, 5, 12))
    assert status.handoff == Handoff(utc(2026, 1, 5, 17), None)
    assert status.upcoming == Handoff(utc(2026, 1, 6, 9), u("bob"))


def test_later_layer_wins_where_layers_overlap():
    s = schedule(
        "UTC",
        layer("base", "2026-01-05T00:00", "1w", ["alice"]),
        layer("top", "2026-01-05T00:00", "1w", ["bob"]),
    )
    assert on_call_at(s, utc(2026, 1, 6)) == Shift(u("bob"), utc(2026, 1, 5), None, "layer:top")


def test_hour_turns_are_absolute_across_dst():
    # 12 h turns from Sat 28 Mar 2026 21:00 CET = 20:00Z: every 12 h in UTC, so the local handoff
    # moves from 21:00/09:00 to 22:00/10:00 once Berlin switches to CEST.
    s = schedule("Europe/Berlin", layer("halves", "2026-03-28T21:00", "12h", ["alice", "bob"]))
    segments = render_layer(s, 0, utc(2026, 3, 28, 20), utc(2026, 3, 30, 8))
    assert handoffs(segments) == [
        (utc(2026, 3, 28, 20), u("alice")),
        (utc(2026, 3, 29, 8), u("bob")),
        (utc(2026, 3, 29, 20), u("alice")),
    ]
    assert segments[1].start.astimezone(ZoneInfo("Europe/Berlin")).hour == 10


def test_multi_day_and_multi_week_turns():
    s = schedule(
        "UTC",
        layer("fortnight", "2026-01-05T09:00", "2w", ["alice", "bob"]),
        layer("three-days", "2026-01-05T09:00", "3d", ["carol", "dave"], (daily("00:00", "01:00"),)),
    )
    assert handoffs(render_layer(s, 0, utc(2026, 1, 5, 9), utc(2026, 2, 3))) == [
        (utc(2026, 1, 5, 9), u("alice")),
        (utc(2026, 1, 19, 9), u("bob")),
        (utc(2026, 2, 2, 9), u("alice")),
    ]
    # carol owns 5-8 Jan 09:00, so the 00:00-01:00 windows on the 6th, 7th and 8th are hers.
    assert handoffs(render_layer(s, 1, utc(2026, 1, 6), utc(2026, 1, 10))) == [
        (utc(2026, 1, 6), u("carol")),
        (utc(2026, 1, 7), u("carol")),
        (utc(2026, 1, 8), u("carol")),
        (utc(2026, 1, 9), u("dave")),
    ]


# DST: day and week turns hand off at the same local time ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Berlin: CET (+1) -> CEST (+2) on Sun 29 Mar, back on Sun 25 Oct 2026.
        (
            "Europe/Berlin",
            "2026-03-22T09:00",
            [utc(2026, 3, 22, 8), utc(2026, 3, 29, 7), utc(2026, 4, 5, 7)],
        ),
        (
            "Europe/Berlin",
            "2026-10-18T09:00",
            [utc(2026, 10, 18, 7), utc(2026, 10, 25, 8), utc(2026, 11, 1, 8)],
        ),
        # New York: EST (-5) -> EDT (-4) on Sun 8 Mar, back on Sun 1 Nov 2026.
        (
            "America/New_York",
            "2026-03-01T09:00",
            [utc(2026, 3, 1, 14), utc(2026, 3, 8, 13), utc(2026, 3, 15, 13)],
        ),
        (
            "America/New_York",
            "2026-10-25T09:00",
            [utc(2026, 10, 25, 13), utc(2026, 11, 1, 14), utc(2026, 11, 8, 14)],
        ),
        # Sydney: AEDT (+11) -> AEST (+10) on Sun 5 Apr, back to AEDT on Sun 4 Oct 2026.
        (
            "Australia/Sydney",
            "2026-03-29T09:00",
            [utc(2026, 3, 28, 22), utc(2026, 4, 4, 23), utc(2026, 4, 11, 23)],
        ),
        (
            "Australia/Sydney",
            "2026-09-27T09:00",
            [utc(2026, 9, 26, 23), utc(2026, 10, 3, 22), utc(2026, 10, 10, 22)],
        ),
    ],
)
def test_weekly_handoffs_stay_at_nine_local_across_dst(zone, start, expected):
    s = schedule(zone, layer("weekly", start, "1w", ["alice", "bob"]))
    segments = render_layer(s, 0, expected[0], expected[-1] + timedelta(hours=1))
    assert [seg.start for seg in segments] == expected
    assert {seg.start.astimezone(ZoneInfo(zone)).strftime("%a %H:%M") for seg in segments} == {"Sun 09:00"}
    # The turn that contains the change is an hour shorter or longer than 168 h.
    assert {segments[0].duration, segments[1].duration} & {timedelta(hours=167), timedelta(hours=169)}


def test_daily_handoff_in_the_spring_forward_gap_moves_to_the_transition_instant():
    # 02:30 does not exist in Berlin on 29 Mar 2026 (02:00 CET jumps to 03:00 CEST = 01:00Z).
    # 28 Mar 02:30 CET = 01:30Z; 30 Mar 02:30 CEST = 00:30Z.
    s = schedule("Europe/Berlin", layer("nights", "2026-03-27T02:30", "1d", ["alice", "bob", "carol"]))
    segments = render_layer(s, 0, utc(2026, 3, 28, 1, 30), utc(2026, 3, 31))
    assert handoffs(segments) == [
        (utc(2026, 3, 28, 1, 30), u("bob")),
        (utc(2026, 3, 29, 1), u("carol")),
        (utc(2026, 3, 30, 0, 30), u("alice")),
    ]
    assert [seg.duration for seg in segments[:2]] == [timedelta(hours=23, minutes=30), timedelta(hours=23, minutes=30)]


def test_daily_handoff_in_the_fall_back_overlap_uses_the_first_occurrence():
    # 02:30 happens twice in Berlin on 25 Oct 2026: first at 00:30Z (CEST), again at 01:30Z (CET).
    s = schedule("Europe/Berlin", layer("nights", "2026-10-24T02:30", "1d", ["alice", "bob"]))
    segments = render_layer(s, 0, utc(2026, 10, 24, 0, 30), utc(2026, 10, 26, 2))
    assert handoffs(segments) == [
        (utc(2026, 10, 24, 0, 30), u("alice")),
        (utc(2026, 10, 25, 0, 30), u("bob")),
        (utc(2026, 10, 26, 1, 30), u("alice")),
    ]
    assert segments[1].duration == timedelta(hours=25)
    # During the repeated hour (second 02:15, 01:15Z) the handoff has already happened.
    assert shift_at(s, utc(2026, 10, 25, 1, 15)).user == u("bob")


def test_new_york_spring_gap_and_fall_overlap():
    # 8 Mar 2026: 02:00 EST -> 03:00 EDT at 07:00Z. 1 Nov 2026: 01:30 first occurs at 05:30Z (EDT).
    spring = schedule("America/New_York", layer("x", "2026-03-07T02:30", "1d", ["alice", "bob"]))
    assert [seg.start for seg in render_layer(spring, 0, utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 7))] == [
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7),
        utc(2026, 3, 9, 6, 30),
    ]
    fall = schedule("America/New_York", layer("x", "2026-10-31T01:30", "1d", ["alice", "bob"]))
    assert [seg.start for seg in render_layer(fall, 0, utc(2026, 10, 31, 5, 30), utc(2026, 11, 2, 7))] == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_layer_starting_in_a_dst_gap_starts_at_the_transition():
    s = schedule("Europe/Berlin", layer("x", "2026-03-29T02:30", "1d", ["alice"]))
    assert on_call_at(s, utc(2026, 3, 29, 0, 59)) is None
    assert shift_at(s, utc(2026, 3, 29, 1)).start == utc(2026, 3, 29, 1)


# Restriction windows ----------------------------------------------------------------------------


def test_daily_window_crossing_midnight():
    s = schedule("UTC", layer("nights", "2026-01-05T00:00", "1w", ["alice"], (daily("22:00", "06:00"),)))
    segments = render(s, utc(2026, 1, 6), utc(2026, 1, 8))
    assert [(seg.start, seg.end, seg.user) for seg in segments] == [
        (utc(2026, 1, 6), utc(2026, 1, 6, 6), u("alice")),
        (utc(2026, 1, 6, 6), utc(2026, 1, 6, 22), None),
        (utc(2026, 1, 6, 22), utc(2026, 1, 7, 6), u("alice")),
        (utc(2026, 1, 7, 6), utc(2026, 1, 7, 22), None),
        (utc(2026, 1, 7, 22), utc(2026, 1, 8), u("alice")),
    ]


def test_daily_window_crossing_midnight_on_a_dst_night_is_an_hour_shorter():
    # 28 Mar 22:00 CET = 21:00Z to 29 Mar 06:00 CEST = 04:00Z: seven hours.
    s = schedule("Europe/Berlin", layer("nights", "2026-03-23T00:00", "1w", ["alice"], (daily("22:00", "06:00"),)))
    shift = shift_at(s, utc(2026, 3, 29, 0))
    assert (shift.start, shift.end) == (utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))


def test_restriction_windows_do_not_pause_the_rotation():
    # Daily turns from Mon 09:00 alternate alice/bob every day, weekends included; with a
    # weekday-only window Monday 12 Jan is turn k=7 -> bob, not the "next" person after Friday.
    s = schedule("UTC", layer("days", "2026-01-05T09:00", "1d", ["alice", "bob"], (weekly("mon 09:00", "fri 17:00"),)))
    assert shift_at(s, utc(2026, 1, 9, 12)).user == u("alice")  # k=4
    assert on_call_at(s, utc(2026, 1, 10, 12)) is None
    assert shift_at(s, utc(2026, 1, 12, 12)).user == u("bob")  # k=7


def test_weekly_window_crossing_the_week_end():
    s = schedule(
        "UTC", layer("weekend", "2026-01-05T00:00", "1d", ["alice", "bob"], (weekly("fri 18:00", "mon 08:00"),))
    )
    segments = [seg for seg in render(s, utc(2026, 1, 5), utc(2026, 1, 19)) if seg.user]
    # Covered Fri 9 Jan 18:00 -> Mon 12 Jan 08:00 and Fri 16 -> Mon 19 08:00 (clipped at the range end).
    assert covered_intervals(s, utc(2026, 1, 5), utc(2026, 1, 19)) == [
        (utc(2026, 1, 5), utc(2026, 1, 5, 8)),  # the window that began Fri 2 Jan, before the layer, is cut at its start
        (utc(2026, 1, 9, 18), utc(2026, 1, 12, 8)),
        (utc(2026, 1, 16, 18), utc(2026, 1, 19)),
    ]
    # daily turns from 5 Jan 00:00: k=4 Fri alice, k=5 Sat bob, k=6 Sun alice, k=7 Mon bob.
    assert [(seg.start, seg.user) for seg in segments[1:5]] == [
        (utc(2026, 1, 9, 18), u("alice")),
        (utc(2026, 1, 10), u("bob")),
        (utc(2026, 1, 11), u("alice")),
        (utc(2026, 1, 12), u("bob")),
    ]


def test_several_daily_windows_in_one_layer():
    s = schedule(
        "UTC", layer("split", "2026-01-05T00:00", "1w", ["alice"], (daily("08:00", "12:00"), daily("13:00", "17:00")))
    )
    assert [(seg.start, seg.end) for seg in render(s, utc(2026, 1, 6), utc(2026, 1, 7)) if seg.user] == [
        (utc(2026, 1, 6, 8), utc(2026, 1, 6, 12)),
        (utc(2026, 1, 6, 13), utc(2026, 1, 6, 17)),
    ]


def test_adjacent_windows_give_one_continuous_shift():
    s = schedule(
        "UTC",
        layer("x", "2026-01-05T00:00", "1w", ["alice", "bob"], (daily("08:00", "12:00"), daily("12:00", "17:00"))),
    )
    assert on_call_at(s, utc(2026, 1, 6, 10)) == Shift(u("alice"), utc(2026, 1, 6, 8), utc(2026, 1, 6, 17), "layer:x")


# Aggregates -------------------------------------------------------------------------------------


def test_coverage_reports_gaps_and_longest_gap():
    s = schedule("UTC", layer("days", "2026-01-05T09:00", "1d", ["alice", "bob"], (daily("09:00", "17:00"),)))
    result = coverage(s, utc(2026, 1, 5), utc(2026, 1, 7))
    # 8 h covered each day out of 48 h.
    assert result.covered == timedelta(hours=16)
    assert result.percent == pytest.approx(100 * 16 / 48)
    assert result.gaps == (
        (utc(2026, 1, 5), utc(2026, 1, 5, 9)),
        (utc(2026, 1, 5, 17), utc(2026, 1, 6, 9)),
        (utc(2026, 1, 6, 17), utc(2026, 1, 7)),
    )
    assert result.longest_gap == timedelta(hours=16)


def test_full_coverage_has_no_gaps():
    s = schedule("UTC", layer("w", "2026-01-05T09:00", "1w", ["alice", "bob"]))
    result = coverage(s, utc(2026, 2, 1), utc(2026, 3, 1))
    assert (result.percent, result.gaps, result.longest_gap) == (100.0, (), timedelta(0))


def test_balance_and_max_share():
    s = schedule("UTC", layer("d", "2026-01-05T00:00", "1d", ["alice", "bob", "carol"]))
    totals = balance(s, utc(2026, 1, 5), utc(2026, 1, 9))
    assert totals == {u("alice"): timedelta(days=2), u("bob"): timedelta(days=1), u("carol"): timedelta(days=1)}
    assert max_share(totals) == 0.5
    assert max_share({}) == 0.0


def test_timeline_has_layers_overrides_and_final():
    s = override_across_handoff()
    view = timeline(s, utc(2026, 1, 11), utc(2026, 1, 13))
    assert [entry.name for entry in view.layers] == ["weekly"]
    assert [seg.user for seg in view.layers[0].segments] == [u("alice"), u("bob")]
    assert [seg.user for seg in view.overrides] == [u("carol")]
    assert [seg.user for seg in view.final] == [u("alice"), u("carol"), u("bob")]


def test_ranges_must_be_aware_and_non_empty():
    s = override_across_handoff()
    with pytest.raises(ValueError, match="after its start"):
        render(s, utc(2026, 1, 2), utc(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call_at(s, utc(2026, 1, 2).replace(tzinfo=None))


def test_schedule_without_layers_is_only_its_overrides():
    s = schedule("UTC", overrides=(override("alice", utc(2026, 1, 5), utc(2026, 1, 6)),))
    assert on_call_at(s, utc(2026, 1, 5, 12)) == Shift(u("alice"), utc(2026, 1, 5), utc(2026, 1, 6), "override")
    assert next_handoff(s, utc(2026, 1, 5, 12)) == Handoff(utc(2026, 1, 6), None)
    assert next_handoff(s, utc(2026, 1, 7)) is None
