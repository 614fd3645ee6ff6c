from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scorecards.engine.evaluate import evaluate, facts_needed, freshness_limit, level_of, percent_of
from scorecards.engine.model import CheckResult, Evidence, Level, ScorecardDef, State
from scorecards.engine.scorecard import parse_scorecard
from tests.scorecards.builders import NOW, check, component, fact, facts

LEVELS = (Level("Bronze", 0), Level("Silver", 1), Level("Gold", 2))


def _card(*checks, filter=()):
    return ScorecardDef("scorecard:default/m", "M", tuple(filter), LEVELS, tuple(checks))


def _result(check_id, level, state, *, exempt=False, weight=1.0):
    return CheckResult(check_id, level, "t", state, Evidence(None, "", None, ""), exempt=exempt, weight=weight)


P, F, NA, E, S = State.PASS, State.FAIL, State.NOT_APPLICABLE, State.ERROR, State.STALE


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        # (Bronze, Silver, Gold) states -> (level, next, needs, unconfirmed)
        ((P, P, P), ("Gold", None, (), ())),
        ((P, P, F), ("Silver", "Gold", ("g",), ())),
        ((P, F, P), ("Bronze", "Silver", ("s",), ())),
        ((F, P, P), (None, "Bronze", ("b",), ())),
        ((P, E, P), ("Bronze", "Silver", ("s",), ("s",))),
        ((P, S, F), ("Bronze", "Silver", ("s",), ("s",))),
        ((E, F, F), (None, "Bronze", ("b",), ("b",))),
        ((NA, NA, NA), ("Gold", None, (), ())),
        ((P, NA, P), ("Gold", None, (), ())),
        ((NA, F, P), ("Bronze", "Silver", ("s",), ())),
    ],
)
def test_level_rule(states, expected):
    results = [
        _result(cid, level, state)
        for cid, level, state in zip("bsg", ("Bronze", "Silver", "Gold"), states, strict=True)
    ]
    assert level_of(_card(), results) == expected


def test_exempt_checks_count_as_passing_whatever_their_state():
    results = [_result("b", "Bronze", F, exempt=True), _result("s", "Silver", E, exempt=True), _result("g", "Gold", F)]
    assert level_of(_card(), results) == ("Silver", "Gold", ("g",), ())
    assert percent_of(results) == pytest.approx(100 * 2 / 3)


def test_a_level_without_checks_is_held_when_the_levels_below_are():
    assert level_of(_card(), [_result("b", "Bronze", P)]) == ("Gold", None, (), ())
    assert level_of(_card(), [_result("g", "Gold", F)]) == ("Silver", "Gold", ("g",), ())


def test_next_level_needs_lists_failing_and_unknown_checks_in_order():
    results = [
        _result("b1", "Bronze", P),
        _result("s1", "Silver", F),
        _result("s2", "Silver", P),
        _result("s3", "Silver", S),
        _result("s4", "Silver", NA),
        _result("s5", "Silver", F, exempt=True),
        _result("g1", "Gold", F),
    ]
    assert level_of(_card(), results) == ("Bronze", "Silver", ("s1", "s3"), ("s3",))


def test_weighted_percent_exact_values():
    results = [
        _result("a", "Bronze", P, weight=3),
        _result("b", "Bronze", F, weight=1),
        _result("c", "Silver", F, weight=2, exempt=True),  # counts as passing
        _result("d", "Silver", NA, weight=5),  # left out
        _result("e", "Gold", E, weight=7),  # left out
        _result("f", "Gold", S, weight=11),  # left out
        _result("g", "Gold", F, weight=4),
        _result("h", "Gold", NA, weight=1, exempt=True),  # not-applicable stays left out
    ]
    # passing 3 + 2 = 5; failing 1 + 4 = 5
    assert percent_of(results) == 50.0


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([], None),
        ([_result("a", "Bronze", NA), _result("b", "Bronze", E)], None),
        ([_result("a", "Bronze", P, weight=0), _result("b", "Bronze", F, weight=0)], None),
        ([_result("a", "Bronze", P, weight=0), _result("b", "Bronze", F, weight=1)], 0.0),
        ([_result("a", "Bronze", P)], 100.0),
        ([_result("a", "Bronze", P, weight=1), _result("b", "Bronze", F, weight=2)], 100 / 3),
    ],
)
def test_percent_edges(results, expected):
    assert percent_of(results) == (pytest.approx(expected) if expected is not None else None)


# -- evaluate ---------------------------------------------------------------------------------------------------------

ENTITY = component(annotations={"backstage.io/techdocs-ref": "dir:."})
CARD = parse_scorecard(
    {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Scorecard",
        "metadata": {"name": "maturity"},
        "spec": {
            "filter": "kind=component",
            "levels": ["Bronze", "Silver", "Gold"],
            "checks": [
                {
                    "id": "lifecycle",
                    "level": "Bronze",
                    "title": "Lifecycle",
                    "rule": {"type": "catalog.field-present", "path": "spec.lifecycle"},
                },
                {
                    "id": "docs",
                    "level": "Bronze",
                    "title": "Docs",
                    "weight": 2,
                    "remediation": "Add docs.",
                    "remediationUrl": "https://docs.example.com/techdocs",
                    "rule": {"type": "catalog.annotation-present", "key": "backstage.io/techdocs-ref"},
                },
                {
                    "id": "readme",
                    "level": "Silver",
                    "title": "README",
                    "rule": {"type": "repo.file-exists", "path": "README.md"},
                },
                {
                    "id": "oncall",
                    "level": "Silver",
                    "title": "On call",
                    "filter": "spec.lifecycle=production",
                    "rule": {"type": "oncall.has-policy"},
                },
                {
                    "id": "system",
                    "level": "Gold",
                    "title": "System",
                    "weight": 4,
                    "rule": {"type": "catalog.field-present", "path": "spec.system"},
                },
            ],
        },
    }
)


def _facts(readme=True, policy=None, readme_error=None, readme_age=timedelta(minutes=5)):
    return facts(
        fact("catalog.entity", ENTITY, source="catalog"),
        fact(
            "repo.file:README.md",
            {"exists": readme, "text": None, "truncated": False},
            error=readme_error,
            age=readme_age,
        ),
        fact("oncall.policy", policy),
    )


POLICY = {"ref": "escalationpolicy:default/p", "problem": None, "levels": [{"people": ["user:default/a"]}]}


def test_evaluate_a_service():
    result = evaluate(CARD, ENTITY, _facts(policy=POLICY), now=NOW)
    assert result.scorecard_ref == "scorecard:default/maturity"
    assert result.entity_ref == "component:default/payments-api"
    assert result.applicable is True
    assert [(c.check_id, c.state) for c in result.checks] == [
        ("lifecycle", P),
        ("docs", P),
        ("readme", P),
        ("oncall", P),
        ("system", F),
    ]
    assert (result.level, result.next_level, result.next_level_needs, result.unconfirmed) == (
        "Silver",
        "Gold",
        ("system",),
        (),
    )
    assert result.percent == pytest.approx(100 * 5 / 9)
    docs = result.check("docs")
    assert (docs.remediation, docs.remediation_url, docs.weight, docs.level) == (
        "Add docs.",
        "https://docs.example.com/techdocs",
        2.0,
        "Bronze",
    )
    assert result.evaluated_at == NOW
    assert result.check("nope") is None


def test_missing_data_never_fails_and_leaves_the_level_unconfirmed():
    result = evaluate(CARD, ENTITY, _facts(readme_error="no repository known", policy=POLICY), now=NOW)
    assert result.check("readme").state is E
    assert (result.level, result.next_level, result.next_level_needs, result.unconfirmed) == (
        "Bronze",
        "Silver",
        ("readme",),
        ("readme",),
    )
    assert result.percent == pytest.approx(100 * 4 / 8)


def test_stale_facts_by_prefix():
    found = _facts(policy=POLICY, readme_age=timedelta(days=3))
    result = evaluate(CARD, ENTITY, found, now=NOW, max_age={"repo.": timedelta(days=1), "": timedelta(days=30)})
    assert result.check("readme").state is S
    assert (
        result.check("readme").evidence.message == "repo.file:README.md was collected 3d ago, more than the 1d allowed"
    )
    assert result.unconfirmed == ("readme",)


def test_exempting_the_unknown_check_confirms_the_level():
    found = _facts(readme_error="git host down", policy=POLICY)
    result = evaluate(CARD, ENTITY, found, now=NOW, exemptions={"readme", "not-a-check"})
    assert result.check("readme").exempt is True
    assert result.check("readme").state is E
    assert result.level == "Silver"


def test_check_filter_makes_checks_not_applicable():
    experimental = component(
        annotations={"backstage.io/techdocs-ref": "dir:."},
        spec={"type": "service", "lifecycle": "experimental", "owner": "group:payments"},
    )
    found = _facts() | {"catalog.entity": fact("catalog.entity", experimental)}
    result = evaluate(CARD, experimental, found, now=NOW)
    oncall = result.check("oncall")
    assert oncall.state is NA
    assert oncall.evidence.message == "does not apply: the entity does not match spec.lifecycle=production"
    assert result.level == "Silver"
    assert "oncall.policy" not in facts_needed(CARD, experimental)


def test_a_scorecard_that_does_not_apply():
    api = {"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "payments"}, "spec": {}}
    result = evaluate(CARD, api, {}, now=NOW)
    assert result.applicable is False
    assert (result.level, result.next_level, result.percent) == (None, None, None)
    assert {c.state for c in result.checks} == {NA}
    assert facts_needed(CARD, api) == set()


def test_facts_needed_for_an_entity():
    assert facts_needed(CARD, ENTITY) == {"catalog.entity", "repo.file:README.md", "oncall.policy"}


def test_unknown_rule_type_and_bad_parameters_at_evaluation_are_errors():
    card = _card(check("gone.rule", check_id="gone"), check("catalog.field-present", check_id="bad"))
    result = evaluate(card, ENTITY, facts(fact("catalog.entity", ENTITY)), now=NOW)
    assert result.check("gone").state is E
    assert result.check("gone").evidence.message == "rule type 'gone.rule' is not known to this Paved"
    assert result.check("bad").state is E
    assert result.check("bad").evidence.message == "bad parameters: rule: 'path' is a required property"
    assert result.level is None


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="evaluate needs an aware datetime for now"):
        evaluate(CARD, ENTITY, _facts(), now=datetime(2026, 1, 1))


def test_freshness_limit_lookup():
    limits = {"repo.": timedelta(days=1), "repo.file:README.md": timedelta(hours=1), "": timedelta(days=7)}
    assert freshness_limit("repo.file:README.md", limits) == timedelta(hours=1)
    assert freshness_limit("repo.file:go.mod", limits) == timedelta(days=1)
    assert freshness_limit("oncall.policy", limits) == timedelta(days=7)
    assert freshness_limit("oncall.policy", {"repo.": timedelta(days=1)}) is None
    assert freshness_limit("x", timedelta(hours=2)) == timedelta(hours=2)
    assert freshness_limit("x", None) is None


def test_result_serialises_to_json_types():
    result = evaluate(CARD, ENTITY, _facts(policy=POLICY), now=NOW).to_dict()
    assert result["level"] == "Silver"
    assert result["evaluated_at"] == "2026-03-02T12:00:00+00:00"
    assert result["checks"][0] == {
        "check_id": "lifecycle",
        "level": "Bronze",
        "title": "Lifecycle",
        "state": "pass",
        "evidence": {
            "value": "production",
            "source": "catalog",
            "observed_at": "2026-03-02T11:55:00+00:00",
            "message": "spec.lifecycle is set",
        },
        "remediation": "",
        "remediation_url": "",
        "exempt": False,
        "weight": 1.0,
    }
