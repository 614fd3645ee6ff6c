from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from catalog.oncall.engine import EscalationLevel, EscalationPolicy, Layer, Schedule, Target, Turn
from catalog.oncall.engine.model import WeeklyWindow
from catalog.oncall.engine.policy import readiness
from scorecards.checks import rule_get
from scorecards.checks.oncall_facts import coverage_value, hours_value, policy_value, rotation_value
from scorecards.engine.model import State
from tests.scorecards.builders import NOW, component, fact, facts, run

ENTITY = component()
START = datetime(2026, 1, 5, 9, 0)  # naive: local wall-clock in the schedule's zone

PRIMARY = Schedule(
    "schedule:default/primary",
    "Europe/Berlin",
    [Layer("weekly", START, Turn(1, "w"), ("user:default/alice", "user:default/bob", "user:default/carol"))],
)
# One weekly window, Monday 09:00 to Friday 17:00: 104 of 168 hours a week.
OFFICE = Schedule(
    "schedule:default/office",
    "UTC",
    [
        Layer(
            "days",
            START,
            Turn(1, "d"),
            ("user:default/dave",),
            (WeeklyWindow(0, datetime(2026, 1, 1, 9).time(), 4, datetime(2026, 1, 1, 17).time()),),
        )
    ],
)
SCHEDULES = {PRIMARY.ref: PRIMARY, OFFICE.ref: OFFICE}


def _policy(*levels):
    return EscalationPolicy(
        "escalationpolicy:default/payments",
        tuple(EscalationLevel(15, tuple(Target(*target) for target in level)) for level in levels),
    )


TWO_LEVELS = _policy([("schedule", PRIMARY.ref)], [("user", "user:default/frank")])


def _facts_for(policy, schedules=SCHEDULES, *, days=14, balance_days=28):
    return facts(
        fact("oncall.policy", policy_value(policy, schedules), source="oncall"),
        fact(f"oncall.coverage:{days}", coverage_value(policy, schedules, now=NOW, days=days), source="oncall"),
        fact("oncall.rotation", rotation_value(policy, schedules), source="oncall"),
        fact(
            f"oncall.hours:{balance_days}", hours_value(policy, schedules, now=NOW, days=balance_days), source="oncall"
        ),
    )


def test_fact_values_have_the_documented_shapes():
    assert policy_value(TWO_LEVELS, SCHEDULES) == {
        "ref": "escalationpolicy:default/payments",
        "problem": None,
        "levels": [
            {
                "targets": [PRIMARY.ref],
                "people": ["user:default/alice", "user:default/bob", "user:default/carol"],
                "unknown_schedules": [],
            },
            {"targets": ["user:default/frank"], "people": ["user:default/frank"], "unknown_schedules": []},
        ],
    }
    assert rotation_value(TWO_LEVELS, SCHEDULES) == {"size": 3, "schedules": {PRIMARY.ref: 3}}
    coverage = coverage_value(TWO_LEVELS, SCHEDULES, now=NOW, days=14)
    assert coverage == {"percent": 100.0, "longest_gap_hours": 0.0, "gaps": []}
    hours = hours_value(TWO_LEVELS, SCHEDULES, now=NOW, days=28)
    assert sum(hours.values()) == pytest.approx(28 * 24)
    assert set(hours) == {"user:default/alice", "user:default/bob", "user:default/carol"}


def test_fact_values_agree_with_the_engines_readiness():
    policy = _policy([("schedule", OFFICE.ref), ("schedule", PRIMARY.ref)], [("schedule", OFFICE.ref)])
    ready = readiness(policy, SCHEDULES, NOW, 14)
    coverage = coverage_value(policy, SCHEDULES, now=NOW, days=14)
    assert coverage["percent"] == pytest.approx(ready.coverage_percent)
    assert coverage["longest_gap_hours"] == pytest.approx(ready.longest_gap.total_seconds() / 3600)
    assert rotation_value(policy, SCHEDULES)["size"] == ready.rotation_size
    hours = hours_value(policy, SCHEDULES, now=NOW, days=14)
    assert max(hours.values()) / sum(hours.values()) == pytest.approx(ready.max_share)


def test_no_policy_is_none_in_every_fact_and_fails_every_rule():
    assert policy_value(None, SCHEDULES) is None
    found = _facts_for(None)
    cases = [
        ("oncall.has-policy", {}),
        ("oncall.levels", {"min": 1}),
        ("oncall.coverage", {"days": 14, "minPercent": 10}),
        ("oncall.rotation-size", {"min": 1}),
        ("oncall.balance", {"maxSharePercent": 100}),
    ]
    for rule_type, params in cases:
        result = run(rule_type, ENTITY, found, **params)
        assert (result.state, result.evidence.message) == (State.FAIL, "the entity has no escalation policy")


def test_has_policy():
    ok = run("oncall.has-policy", ENTITY, _facts_for(TWO_LEVELS))
    assert (ok.state, ok.evidence.message) == (State.PASS, "escalated by escalationpolicy:default/payments (2 levels)")
    problem = policy_value(None, {}, problem="paved.dev/escalation-policy is 'x', not an escalation policy ref.")
    bad = run("oncall.has-policy", ENTITY, facts(fact("oncall.policy", problem)))
    assert (bad.state, bad.evidence.message) == (
        State.FAIL,
        "paved.dev/escalation-policy is 'x', not an escalation policy ref.",
    )


def test_levels_with_distinct_people():
    assert run("oncall.levels", ENTITY, _facts_for(TWO_LEVELS), min=2).state is State.PASS
    same_twice = _policy([("schedule", PRIMARY.ref)], [("schedule", PRIMARY.ref)])
    result = run("oncall.levels", ENTITY, _facts_for(same_twice), min=2)
    assert result.state is State.FAIL
    assert (
        result.evidence.message
        == "escalationpolicy:default/payments has 0 levels with distinct people, at least 2 needed"
    )
    assert run("oncall.levels", ENTITY, _facts_for(same_twice), min=2, distinctPeople=False).state is State.PASS


def test_levels_with_an_unknown_schedule_reach_nobody():
    policy = _policy([("schedule", PRIMARY.ref)], [("schedule", "schedule:default/gone")])
    result = run("oncall.levels", ENTITY, _facts_for(policy), min=2)
    assert result.state is State.FAIL
    assert policy_value(policy, SCHEDULES)["levels"][1]["unknown_schedules"] == ["schedule:default/gone"]


def test_coverage_percent_and_longest_gap():
    office_only = _policy([("schedule", OFFICE.ref)])
    found = _facts_for(office_only)
    value = found["oncall.coverage:14"].value
    assert value["percent"] == pytest.approx(100 * 104 / 168)
    assert value["longest_gap_hours"] == pytest.approx(64.0)  # Friday 17:00 to Monday 09:00
    low = run("oncall.coverage", ENTITY, found, days=14, minPercent=90)
    assert low.state is State.FAIL
    assert low.evidence.message == "level 1 covers 61.9% of the next 14 days, at least 90% needed"
    gap = run("oncall.coverage", ENTITY, found, days=14, maxGapHours=24)
    assert gap.evidence.message == "the longest level-1 gap is 64 h, at most 24 h allowed"
    both = run("oncall.coverage", ENTITY, found, days=14, minPercent=90, maxGapHours=24)
    assert both.evidence.message.count(";") == 1
    assert run("oncall.coverage", ENTITY, found, days=14, minPercent=60, maxGapHours=64).state is State.PASS
    full = run("oncall.coverage", ENTITY, _facts_for(TWO_LEVELS), days=14, minPercent=100, maxGapHours=0)
    assert full.state is State.PASS


def test_coverage_needs_the_fact_for_its_window():
    assert rule_get("oncall.coverage").facts({"days": 7, "minPercent": 1}, ENTITY) == {"oncall.coverage:7"}
    result = run("oncall.coverage", ENTITY, _facts_for(TWO_LEVELS, days=14), days=7, minPercent=1)
    assert (result.state, result.evidence.message) == (State.ERROR, "fact oncall.coverage:7 has not been collected")


def test_rotation_size():
    assert run("oncall.rotation-size", ENTITY, _facts_for(TWO_LEVELS), min=3).state is State.PASS
    small = run("oncall.rotation-size", ENTITY, _facts_for(TWO_LEVELS), min=4)
    assert (small.state, small.evidence.message) == (State.FAIL, "3 people share level 1, at least 4 needed")


def test_balance():
    # Weekly turns of three people over four weeks: one of them takes two turns (part of one of them).
    hours = _facts_for(TWO_LEVELS)["oncall.hours:28"].value
    share = 100 * max(hours.values()) / sum(hours.values())
    assert 33.3 < share < 50
    assert run("oncall.balance", ENTITY, _facts_for(TWO_LEVELS), maxSharePercent=50).state is State.PASS
    uneven = run("oncall.balance", ENTITY, _facts_for(TWO_LEVELS), maxSharePercent=33)
    assert uneven.state is State.FAIL
    one_person = _policy([("user", "user:default/frank")])
    heavy = run("oncall.balance", ENTITY, _facts_for(one_person), maxSharePercent=50)
    assert heavy.state is State.FAIL
    assert heavy.evidence.message == (
        "user:default/frank carries 100.0% of level-1 hours in the next 28 days (at most 50%)"
    )
    assert heavy.evidence.value["share_percent"] == 100.0


def test_balance_with_nobody_on_call_fails():
    found = facts(fact("oncall.hours:28", {}))
    result = run("oncall.balance", ENTITY, found, maxSharePercent=50)
    assert (result.state, result.evidence.message) == (State.FAIL, "nobody is on call at level 1 in the next 28 days")


def test_balance_window_is_a_parameter():
    assert rule_get("oncall.balance").facts({"maxSharePercent": 50, "days": 7}, ENTITY) == {"oncall.hours:7"}
    assert rule_get("oncall.balance").facts({"maxSharePercent": 50}, ENTITY) == {"oncall.hours:28"}


@pytest.mark.parametrize(
    ("rule_type", "params", "key"),
    [
        ("oncall.has-policy", {}, "oncall.policy"),
        ("oncall.levels", {"min": 1}, "oncall.policy"),
        ("oncall.coverage", {"days": 14, "minPercent": 1}, "oncall.coverage:14"),
        ("oncall.rotation-size", {"min": 1}, "oncall.rotation"),
        ("oncall.balance", {"maxSharePercent": 50}, "oncall.hours:28"),
    ],
)
def test_oncall_rules_are_error_when_the_engine_failed_and_stale_when_old(rule_type, params, key):
    broken = facts(fact(key, None, error="schedule:default/primary could not be read"))
    result = run(rule_type, ENTITY, broken, **params)
    assert result.state is State.ERROR
    assert result.evidence.message == f"{key} could not be collected: schedule:default/primary could not be read"
    old = {k: fact(k, v.value, age=timedelta(hours=2)) for k, v in _facts_for(TWO_LEVELS).items()}
    assert run(rule_type, ENTITY, old, max_age={"oncall.": timedelta(hours=1)}, **params).state is State.STALE


@pytest.mark.parametrize(
    ("rule_type", "params", "where", "fragment"),
    [
        ("oncall.has-policy", {"x": 1}, "", "Additional properties are not allowed"),
        ("oncall.levels", {}, "", "'min' is a required property"),
        ("oncall.levels", {"min": 0}, "min", "less than the minimum of 1"),
        ("oncall.levels", {"min": 2, "distinctPeople": "yes"}, "distinctPeople", "is not of type 'boolean'"),
        ("oncall.coverage", {"days": 14}, "", "give minPercent, maxGapHours or both"),
        ("oncall.coverage", {"days": 0, "minPercent": 1}, "days", "less than the minimum of 1"),
        ("oncall.coverage", {"days": 14, "minPercent": 101}, "minPercent", "greater than the maximum of 100"),
        ("oncall.coverage", {"days": 14, "maxGapHours": -1}, "maxGapHours", "less than the minimum of 0"),
        ("oncall.rotation-size", {"min": "3"}, "min", "is not of type 'integer'"),
        ("oncall.balance", {"maxSharePercent": 0}, "maxSharePercent", "less than or equal to the minimum of 0"),
        ("oncall.balance", {"maxSharePercent": 50, "days": 400}, "days", "greater than the maximum of 366"),
    ],
)
def test_bad_parameters(rule_type, params, where, fragment):
    problems = rule_get(rule_type).params_problems(params)
    assert problems
    assert problems[0][0] == where
    assert fragment in problems[0][1]


def test_hostile_fact_values_never_raise():
    for value in ({"levels": "x"}, {"levels": [{"people": None}]}, {"percent": "0"}, {"size": "2"}, {"alice": "3"}):
        for rule_type, params, key in [
            ("oncall.has-policy", {}, "oncall.policy"),
            ("oncall.levels", {"min": 1}, "oncall.policy"),
            ("oncall.coverage", {"days": 1, "minPercent": 1}, "oncall.coverage:1"),
            ("oncall.rotation-size", {"min": 1}, "oncall.rotation"),
            ("oncall.balance", {"maxSharePercent": 50}, "oncall.hours:28"),
        ]:
            result = run(rule_type, ENTITY, facts(fact(key, value)), **params)
            assert result.state in (State.PASS, State.FAIL, State.ERROR)
