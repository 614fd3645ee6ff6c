"""Properties of the level and percentage rules, over generated scorecards and results."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorecards.checks import Rule, register_rule, rule_find, unregister_rule
from scorecards.checks.base import result
from scorecards.engine.evaluate import evaluate, level_of, percent_of
from scorecards.engine.model import CheckResult, Evidence, Level, ScorecardDef, State
from tests.scorecards.builders import NOW, check, component, fact

LEVEL_NAMES = ("Bronze", "Silver", "Gold", "Platinum")
STATES = list(State)


def _card(level_count, checks=()):
    levels = tuple(Level(name, rank) for rank, name in enumerate(LEVEL_NAMES[:level_count]))
    return ScorecardDef("scorecard:default/p", "P", (), levels, tuple(checks))


@st.composite
def graded(draw):
    level_count = draw(st.integers(1, 4))
    count = draw(st.integers(0, 10))
    results = [
        CheckResult(
            check_id=f"c{index}",
            level=draw(st.sampled_from(LEVEL_NAMES[:level_count])),
            title="t",
            state=draw(st.sampled_from(STATES)),
            evidence=Evidence(None, "", None, ""),
            exempt=draw(st.booleans()),
            weight=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.0])),
        )
        for index in range(count)
    ]
    return _card(level_count), results


def _rank(card, level):
    return -1 if level is None else [lvl.name for lvl in card.levels].index(level)


def _with(results, index, **changes):
    return [replace(r, **changes) if i == index else r for i, r in enumerate(results)]


@given(graded(), st.data())
def test_a_check_turning_from_pass_to_fail_never_raises_the_level(graded_card, data):
    card, results = graded_card
    if not results:
        return
    index = data.draw(st.integers(0, len(results) - 1))
    passing, failing = _with(results, index, state=State.PASS), _with(results, index, state=State.FAIL)
    assert _rank(card, level_of(card, failing)[0]) <= _rank(card, level_of(card, passing)[0])


@given(graded(), st.data(), st.sampled_from([State.ERROR, State.STALE]))
def test_missing_data_gives_the_same_level_as_a_fail_and_never_more_than_a_pass(graded_card, data, unknown):
    card, results = graded_card
    if not results:
        return
    index = data.draw(st.integers(0, len(results) - 1))
    level_fail = level_of(card, _with(results, index, state=State.FAIL))[0]
    level_unknown = level_of(card, _with(results, index, state=unknown))[0]
    level_pass = level_of(card, _with(results, index, state=State.PASS))[0]
    assert level_unknown == level_fail
    assert _rank(card, level_unknown) <= _rank(card, level_pass)


@given(graded(), st.data())
def test_exempting_a_check_never_lowers_the_level_or_the_percent(graded_card, data):
    card, results = graded_card
    if not results:
        return
    index = data.draw(st.integers(0, len(results) - 1))
    before, after = _with(results, index, exempt=False), _with(results, index, exempt=True)
    assert _rank(card, level_of(card, after)[0]) >= _rank(card, level_of(card, before)[0])
    p_before, p_after = percent_of(before), percent_of(after)
    if p_before is not None and p_after is not None:
        assert p_after >= p_before - 1e-9


@given(graded())
def test_a_held_level_means_every_check_up_to_it_passes(graded_card):
    card, results = graded_card
    level, next_level, needs, unconfirmed = level_of(card, results)
    rank = _rank(card, level)
    for r in results:
        if _rank(card, r.level) <= rank:
            assert r.counts_as_passing or r.state is State.NOT_APPLICABLE
    if next_level is None:
        assert level == card.levels[-1].name
        assert needs == unconfirmed == ()
    else:
        assert _rank(card, next_level) == rank + 1
        assert needs
        assert set(unconfirmed) <= set(needs)
        by_id = {r.check_id: r for r in results}
        assert all(by_id[c].level == next_level for c in needs)
        assert all(by_id[c].unknown for c in unconfirmed)
        assert all(by_id[c].counts_as_failing for c in set(needs) - set(unconfirmed))


@given(graded(), st.randoms(use_true_random=False))
def test_order_of_checks_does_not_matter_and_percent_is_bounded(graded_card, random):
    card, results = graded_card
    shuffled = list(results)
    random.shuffle(shuffled)
    assert level_of(card, shuffled)[:2] == level_of(card, results)[:2]
    percent = percent_of(results)
    if percent is None:
        assert sum(r.weight for r in results if r.counts_as_passing or r.counts_as_failing) == 0
    else:
        assert 0.0 <= percent <= 100.0
        assert percent == percent_of(shuffled) or abs(percent - percent_of(shuffled)) < 1e-9


# -- end to end: facts in, never a fail from missing data -----------------------------------------------------------

FLAG = "test.flag"


def _flag_judge(params, entity, facts, now):
    state = {"pass": State.PASS, "fail": State.FAIL}[facts[f"flag:{params['id']}"].value]
    return result(state, facts[f"flag:{params['id']}"], None, "flag")


@pytest.fixture(scope="module", autouse=True)
def flag_rule():
    assert rule_find(FLAG) is None
    register_rule(
        Rule(
            FLAG,
            "Flag",
            {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
            lambda params, entity: {f"flag:{params['id']}"},
            _flag_judge,
        )
    )
    yield
    unregister_rule(FLAG)


# What a collector may have left for a check: a verdict, nothing, an error, or an old verdict.
OUTCOMES = ["pass", "fail", "missing", "error", "old-pass", "old-fail"]


@given(st.integers(1, 4), st.lists(st.tuples(st.integers(0, 3), st.sampled_from(OUTCOMES)), max_size=8))
def test_evaluate_never_fails_a_check_whose_data_is_missing_broken_or_old(level_count, plan):
    checks = [
        check(FLAG, level=LEVEL_NAMES[min(level, level_count - 1)], check_id=f"c{i}", id=f"c{i}")
        for i, (level, _) in enumerate(plan)
    ]
    found = {}
    for i, (_, outcome) in enumerate(plan):
        key = f"flag:c{i}"
        if outcome in ("pass", "fail"):
            found[key] = fact(key, outcome)
        elif outcome == "error":
            found[key] = fact(key, None, error="collector failed")
        elif outcome.startswith("old-"):
            found[key] = fact(key, outcome[4:], age=timedelta(days=2))
    graded_result = evaluate(_card(level_count, checks), component(), found, now=NOW, max_age=timedelta(days=1))
    for (_, outcome), check_result in zip(plan, graded_result.checks, strict=True):
        expected = {
            "pass": State.PASS,
            "fail": State.FAIL,
            "missing": State.ERROR,
            "error": State.ERROR,
            "old-pass": State.STALE,
            "old-fail": State.STALE,
        }[outcome]
        assert check_result.state is expected
    # Replacing every unknown with a pass can only raise the level; with a fail, it stays.
    as_pass = [replace(r, state=State.PASS) if r.unknown else r for r in graded_result.checks]
    as_fail = [replace(r, state=State.FAIL) if r.unknown else r for r in graded_result.checks]
    card = _card(level_count, checks)
    assert level_of(card, as_fail)[0] == graded_result.level
    assert _rank(card, level_of(card, as_pass)[0]) >= _rank(card, graded_result.level)
