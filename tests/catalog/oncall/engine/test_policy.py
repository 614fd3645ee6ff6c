from __future__ import annotations

from datetime import timedelta

import pytest

from catalog.oncall.engine import (
    EscalationLevel,
    EscalationPolicy,
    LevelStatus,
    Next,
    OnCall,
    Target,
    paging_summary,
    policy_now,
    readiness,
)
from tests.catalog.oncall.engine.builders import daily, layer, schedule, u, utc, weekly

DAY = "schedule:default/day-shift"
SECONDARY = "schedule:default/secondary"


def schedules():
    return {
        # alice works weekdays 09:00-17:00 UTC.
        DAY: schedule(
            "UTC",
            layer("days", "2026-01-05T09:00", "1d", ["alice"], (weekly("mon 09:00", "fri 17:00"),)),
            ref=DAY,
        ),
        # frank week 0 (5 Jan 00:00 -> 12 Jan 00:00 UTC), grace week 1.
        SECONDARY: schedule("UTC", layer("weekly", "2026-01-05T00:00", "1w", ["frank", "grace"]), ref=SECONDARY),
    }


def policy(*levels: tuple[int, list[str]], repeat: int = 0) -> EscalationPolicy:
    return EscalationPolicy(
        "escalationpolicy:default/p",
        tuple(
            EscalationLevel(delay, tuple(Target(ref.split(":", 1)[0], ref) for ref in targets))  # type: ignore[arg-type]
            for delay, targets in levels
        ),
        repeat,
    )


# Golden 3: a gap at level 1, covered by level 2 --------------------------------------------------


def test_golden_gap_at_level_one_pages_level_two():
    # Saturday 10 Jan 12:00Z: outside alice's weekday window, inside frank's week 0.
    levels = policy_now(policy((15, [DAY]), (30, [SECONDARY])), schedules(), utc(2026, 1, 10, 12))
    assert levels == [
        LevelStatus(
            level=1,
            delay_minutes=15,
            on_call=(),
            # alice's window reopens Mon 12 Jan 09:00Z.
            next=(Next(u("alice"), utc(2026, 1, 12, 9), DAY),),
            gap=True,
        ),
        LevelStatus(
            level=2,
            delay_minutes=30,
            on_call=(OnCall(u("frank"), utc(2026, 1, 5), utc(2026, 1, 12), SECONDARY),),
            next=(Next(u("grace"), utc(2026, 1, 12), SECONDARY),),
            gap=False,
        ),
    ]
    assert paging_summary(levels) == "Level 1 has a gap right now, so level 2 (Frank) is first in line."


def test_level_one_on_call_is_named_first():
    levels = policy_now(policy((15, [DAY]), (30, [SECONDARY])), schedules(), utc(2026, 1, 7, 12))
    assert [entry.user_ref for entry in levels[0].on_call] == [u("alice")]
    assert paging_summary(levels) == "Level 1: Alice is on call."


def test_daily_turns_of_one_member_merge_into_the_whole_window():
    # Consecutive turns of the same person inside one window form one shift.
    levels = policy_now(policy((15, [DAY])), schedules(), utc(2026, 1, 7, 12))
    assert levels[0].on_call == (OnCall(u("alice"), utc(2026, 1, 5, 9), utc(2026, 1, 9, 17), DAY),)


def test_user_target_is_always_on_call():
    levels = policy_now(policy((5, ["user:default/frank"])), {}, utc(2026, 1, 10))
    assert levels == [LevelStatus(1, 5, (OnCall(u("frank"), None, None, None),), (), False)]
    assert paging_summary(levels) == "Level 1: Frank is on call."


def test_unknown_schedule_is_a_gap_with_a_note():
    levels = policy_now(policy((5, ["schedule:default/missing"]), (10, ["user:default/frank"])), {}, utc(2026, 1, 10))
    assert levels[0].gap
    assert levels[0].notes == ("schedule:default/missing is not in the catalog, so nobody from it is on call.",)
    assert paging_summary(levels) == "Level 1 has a gap right now, so level 2 (Frank) is first in line."


def test_several_people_at_one_level():
    levels = policy_now(policy((15, [DAY, SECONDARY, "user:default/jane.doe"])), schedules(), utc(2026, 1, 7, 12))
    assert [entry.user_ref for entry in levels[0].on_call] == [u("alice"), u("frank"), u("jane.doe")]
    assert paging_summary(levels) == "Level 1: Alice, Frank and Jane Doe are on call."


def test_summary_with_several_gaps_and_display_names():
    statuses = [
        LevelStatus(1, 5, (), (), True),
        LevelStatus(2, 5, (), (), True),
        LevelStatus(3, 5, (OnCall(u("frank"), None, None, None),), (), False),
        LevelStatus(4, 5, (), (), True),
    ]
    names = {u("frank"): "Frank Zappa"}
    assert paging_summary(statuses, names=names) == (
        "Levels 1 and 2 have gaps right now, so level 3 (Frank Zappa) is first in line. Level 4 also has a gap."
    )


def test_summary_when_nobody_is_on_call_or_there_are_no_levels():
    assert paging_summary([LevelStatus(1, 5, (), (), True)]) == "No level has anyone on call right now."
    assert paging_summary([]) == "This policy has no levels, so nobody is on call."


def test_shared_cache_computes_each_schedule_once():
    cache: dict[str, object] = {}
    first = policy_now(policy((15, [DAY])), schedules(), utc(2026, 1, 7, 12), cache=cache)  # type: ignore[arg-type]
    assert set(cache) == {DAY}
    again = policy_now(policy((15, [DAY]), (5, [DAY])), schedules(), utc(2026, 1, 7, 12), cache=cache)  # type: ignore[arg-type]
    assert again[0].on_call == again[1].on_call == first[0].on_call


# Readiness --------------------------------------------------------------------------------------


def test_readiness_without_a_policy():
    facts = readiness(None, {}, utc(2026, 1, 5), days=7)
    assert facts.to_dict() == {
        "has_policy": False,
        "level_count": 0,
        "levels_with_distinct_people": 0,
        "coverage_percent": 0.0,
        "longest_gap_seconds": 7 * 86400,
        "rotation_size": 0,
        "max_share": 0.0,
        "window_days": 7,
        "unknown_schedules": [],
    }


def test_readiness_facts_for_a_two_level_policy():
    # Window Mon 5 Jan 00:00 -> Mon 12 Jan 00:00 UTC.
    # Level 1 (alice, weekdays 09:00 Mon -> 17:00 Fri) covers 4 days + 8 h = 104 h of 168 h.
    # Gaps: 5 Jan 00:00-09:00 (9 h) and Fri 17:00 -> Mon 00:00 (55 h).
    facts = readiness(policy((15, [DAY]), (30, [SECONDARY])), schedules(), utc(2026, 1, 5), days=7)
    assert facts.has_policy
    assert facts.level_count == 2
    assert facts.levels_with_distinct_people == 2  # {alice} vs {frank}
    assert facts.coverage_percent == pytest.approx(100 * 104 / 168)
    assert facts.longest_gap == timedelta(hours=55)
    assert facts.rotation_size == 1
    assert facts.max_share == 1.0


def test_readiness_level_one_combines_its_targets():
    facts = readiness(policy((15, [DAY, SECONDARY])), schedules(), utc(2026, 1, 5), days=14)
    assert facts.coverage_percent == 100.0
    assert facts.longest_gap == timedelta(0)
    assert facts.rotation_size == 3  # alice, frank, grace
    # alice 2 x 104 h; frank 168 h; grace 168 h -> alice holds 208 / 544.
    assert facts.max_share == pytest.approx(208 / 544)


def test_readiness_counts_levels_that_repeat_other_levels_as_not_distinct():
    facts = readiness(
        policy((15, [SECONDARY]), (15, [SECONDARY]), (15, ["user:default/boss"]), (15, ["schedule:default/nope"])),
        schedules(),
        utc(2026, 1, 5),
        days=14,
    )
    assert facts.levels_with_distinct_people == 1  # only the boss level; the unknown one is empty
    assert facts.unknown_schedules == ("schedule:default/nope",)
    assert facts.to_dict()["unknown_schedules"] == ["schedule:default/nope"]


def test_readiness_user_target_at_level_one_is_full_coverage():
    facts = readiness(policy((15, ["user:default/boss"])), {}, utc(2026, 1, 5), days=3)
    assert (facts.coverage_percent, facts.rotation_size, facts.max_share) == (100.0, 1, 1.0)


def test_readiness_needs_a_positive_window():
    with pytest.raises(ValueError, match="at least one day"):
        readiness(None, {}, utc(2026, 1, 5), days=0)


def test_readiness_with_a_gappy_daily_window_at_level_one():
    s = schedule("UTC", layer("d", "2026-01-05T00:00", "1d", ["alice", "bob"], (daily("09:00", "17:00"),)), ref=DAY)
    facts = readiness(policy((15, [DAY])), {DAY: s}, utc(2026, 1, 5), days=2)
    assert facts.coverage_percent == pytest.approx(100 * 16 / 48)
    assert facts.longest_gap == timedelta(hours=16)
    assert facts.max_share == 0.5
