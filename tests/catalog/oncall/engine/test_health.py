from __future__ import annotations

from datetime import timedelta

import pytest

from catalog.oncall.engine import EscalationLevel, EscalationPolicy, Target, policy_health, schedule_health
from catalog.oncall.engine.health import GAP, PERSON_ON_TWO_LEVELS, ROTATION_OF_ONE, SINGLE_LEVEL
from tests.catalog.oncall.engine.builders import daily, layer, schedule, u, utc

PRIMARY = "schedule:default/primary"
SECONDARY = "schedule:default/secondary"
SOLO = "schedule:default/solo"
DAYS = "schedule:default/days"
NOW = utc(2026, 1, 5, 12)


def schedules():
    return {
        PRIMARY: schedule("UTC", layer("weekly", "2026-01-05T00:00", "1w", ["alice", "bob"]), ref=PRIMARY),
        SECONDARY: schedule("UTC", layer("weekly", "2026-01-05T00:00", "1w", ["carol", "dave"]), ref=SECONDARY),
        SOLO: schedule("UTC", layer("all", "2026-01-05T00:00", "1w", ["erin"]), ref=SOLO),
        # 09:00-17:00 every day: a gap every night.
        DAYS: schedule(
            "UTC", layer("days", "2026-01-05T00:00", "1d", ["frank", "grace"], (daily("09:00", "17:00"),)), ref=DAYS
        ),
    }


def policy(*levels: list[str]) -> EscalationPolicy:
    return EscalationPolicy(
        "escalationpolicy:default/p",
        tuple(EscalationLevel(10, tuple(Target(ref.split(":", 1)[0], ref) for ref in targets)) for targets in levels),  # type: ignore[arg-type]
    )


def codes(warnings):
    return [w.code for w in warnings]


def test_two_levels_of_distinct_full_rotations_are_healthy():
    assert policy_health(policy([PRIMARY], [SECONDARY]), schedules(), NOW) == ()


def test_a_single_level_is_weak():
    warnings = policy_health(policy([PRIMARY]), schedules(), NOW)
    assert codes(warnings) == [SINGLE_LEVEL]
    assert warnings[0].message == "This policy has a single level: when it is missed, nobody else is reached."


def test_a_policy_without_levels_says_nobody_is_on_call():
    warnings = policy_health(policy(), schedules(), NOW)
    assert codes(warnings) == [SINGLE_LEVEL]
    assert "no levels" in warnings[0].message


def test_one_person_on_two_levels_is_named_with_both_levels():
    warnings = policy_health(policy([PRIMARY], [u("alice")]), schedules(), NOW, names={u("alice"): "Alice Adams"})
    assert codes(warnings) == [PERSON_ON_TWO_LEVELS]
    assert warnings[0].subject == u("alice")
    assert warnings[0].message.startswith("Alice Adams is on call at levels 1 and 2 in the next 7 days")


def test_a_person_only_later_in_the_rotation_still_counts_within_the_window():
    # bob's week starts 12 Jan, inside a 14-day window but not a 3-day one.
    weak = policy([PRIMARY], [u("bob")])
    assert codes(policy_health(weak, schedules(), NOW, days=14)) == [PERSON_ON_TWO_LEVELS]
    assert policy_health(weak, schedules(), NOW, days=3) == ()


def test_a_level_with_a_gap_names_the_level_and_its_first_gap():
    warnings = policy_health(policy([DAYS], [SECONDARY]), schedules(), NOW)
    assert codes(warnings) == [GAP]
    assert warnings[0].level == 1
    assert warnings[0].start == utc(2026, 1, 5, 17)
    assert warnings[0].message == "Level 1 has 7 gaps in the next 7 days: nobody at this level is on call then."


def test_a_user_target_covers_a_schedules_gaps_at_the_same_level():
    assert policy_health(policy([DAYS, u("zoe")], [SECONDARY]), schedules(), NOW) == ()


def test_a_schedule_missing_from_the_catalog_leaves_its_level_uncovered():
    warnings = policy_health(policy(["schedule:default/nowhere"], [SECONDARY]), schedules(), NOW)
    assert codes(warnings) == [GAP]
    assert warnings[0].start == NOW
    assert "a gap in the next 7 days" in warnings[0].message


def test_a_rotation_of_one_names_the_schedule_and_the_person():
    names = {SOLO: "Solo rota", u("erin"): "Erin"}
    warnings = policy_health(policy([SOLO], [SECONDARY]), schedules(), NOW, names=names)
    assert codes(warnings) == [ROTATION_OF_ONE]
    assert warnings[0].subject == SOLO
    assert warnings[0].message.startswith("Solo rota rotates through one person (Erin)")


def test_every_weakness_at_once_comes_most_serious_first():
    warnings = policy_health(policy([SOLO, DAYS]), schedules(), NOW)
    assert codes(warnings) == [SINGLE_LEVEL, ROTATION_OF_ONE]
    warnings = policy_health(policy([DAYS], [SOLO, u("frank")]), schedules(), NOW)
    assert codes(warnings) == [GAP, PERSON_ON_TWO_LEVELS, ROTATION_OF_ONE]


def test_schedule_health_reports_gaps_and_a_rotation_of_one():
    assert schedule_health(schedules()[PRIMARY], NOW) == ()
    assert codes(schedule_health(schedules()[SOLO], NOW)) == [ROTATION_OF_ONE]
    gap = schedule_health(schedules()[DAYS], NOW, days=1, names={DAYS: "Day shift"})
    assert codes(gap) == [GAP]
    assert gap[0].message == "Day shift has a gap in the next 1 day: nobody is on call then."
    assert gap[0].start == utc(2026, 1, 5, 17)


def test_a_gap_past_the_window_is_not_reported():
    late = schedule("UTC", layer("w", "2026-01-20T00:00", "1w", ["alice", "bob"]), ref=PRIMARY)
    assert codes(schedule_health(late, NOW, days=7)) == [GAP]
    started = schedule("UTC", layer("w", "2026-01-01T00:00", "1w", ["alice", "bob"]), ref=PRIMARY)
    assert schedule_health(started, NOW, days=7) == ()
    assert schedule_health(started, NOW + timedelta(days=400), days=7) == ()


@pytest.mark.parametrize("days", [0, -3])
def test_an_empty_window_is_refused(days):
    with pytest.raises(ValueError, match="at least one day"):
        policy_health(policy([PRIMARY]), schedules(), NOW, days=days)
    with pytest.raises(ValueError, match="at least one day"):
        schedule_health(schedules()[PRIMARY], NOW, days=days)
