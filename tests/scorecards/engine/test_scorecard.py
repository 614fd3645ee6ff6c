from __future__ import annotations

import copy

import pytest

from catalog.descriptors import validate_entity
from scorecards.engine.model import CheckDef, Level
from scorecards.engine.scorecard import ScorecardSpecError, entity_problems, parse_scorecard, validate_scorecard_spec

SCORECARD = {
    "apiVersion": "paved.dev/v1alpha1",
    "kind": "Scorecard",
    "metadata": {"name": "Service-Maturity", "title": "Service maturity", "description": "Paved-path adoption"},
    "spec": {
        "owner": "group:platform",
        "filter": "kind=component,spec.type=service",
        "levels": ["Bronze", "Silver", "Gold"],
        "checks": [
            {
                "id": "owned",
                "level": "Bronze",
                "title": "Owned by a team",
                "rule": {"type": "catalog.owner-is-group", "minMembers": 2},
                "remediation": "Set spec.owner to your team.",
                "remediationUrl": "https://docs.example.com/ownership",
            },
            {
                "id": "oncall",
                "level": "Silver",
                "title": "Has on-call",
                "rule": {"type": "oncall.has-policy"},
                "weight": 3,
                "filter": ["spec.lifecycle=production"],
            },
            {
                "id": "readme",
                "level": "Gold",
                "title": "README",
                "rule": {"type": "repo.file-exists", "path": "README.md"},
            },
        ],
    },
}


def _with(**spec_changes):
    entity = copy.deepcopy(SCORECARD)
    entity["spec"].update(spec_changes)
    return entity


def _problems(spec):
    return [(p.path, p.code, p.message) for p in validate_scorecard_spec(spec)]


def test_parse_a_scorecard_with_plain_levels():
    card = parse_scorecard(SCORECARD)
    assert card.ref == "scorecard:default/service-maturity"
    assert card.title == "Service maturity"
    assert card.description == "Paved-path adoption"
    assert card.owner == "group:platform"
    assert card.filter == ("kind=component,spec.type=service",)
    assert card.levels == (Level("Bronze", 0), Level("Silver", 1), Level("Gold", 2))
    assert card.checks[0] == CheckDef(
        id="owned",
        level="Bronze",
        title="Owned by a team",
        rule_type="catalog.owner-is-group",
        params={"minMembers": 2},
        remediation="Set spec.owner to your team.",
        remediation_url="https://docs.example.com/ownership",
        weight=1.0,
    )
    assert (card.checks[1].weight, card.checks[1].filter) == (3.0, ("spec.lifecycle=production",))
    assert card.checks_at("Gold") == (card.checks[2],)
    assert card.level_named("Silver") == Level("Silver", 1)
    assert card.level_named("Platinum") is None


def test_name_object_levels_parse_to_the_same_definition():
    objects = _with(levels=[{"name": "Bronze"}, {"name": "Silver"}, "Gold"])
    assert parse_scorecard(objects) == parse_scorecard(SCORECARD)


def test_the_example_is_also_a_valid_catalog_entity():
    assert validate_entity(SCORECARD, file="s.yaml", document=0) == []


def test_no_filter_means_every_entity():
    entity = copy.deepcopy(SCORECARD)
    del entity["spec"]["filter"]
    assert parse_scorecard(entity).filter == ()


def test_unknown_rule_type():
    spec = _with(checks=[{"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "catalog.nope"}}])["spec"]
    [(path, code, message)] = _problems(spec)
    assert (path, code) == ("checks[0].rule.type", "unknown-rule-type")
    assert message.startswith("unknown rule type 'catalog.nope'; known types: catalog.annotation-present, ")


def test_bad_parameters_name_the_parameter():
    checks = [
        {"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "catalog.field-present"}},
        {"id": "b", "level": "Bronze", "title": "t", "rule": {"type": "oncall.levels", "min": 0, "extra": True}},
        {
            "id": "c",
            "level": "Bronze",
            "title": "t",
            "rule": {"type": "catalog.field-matches", "path": "a", "pattern": "("},
        },
    ]
    assert _problems(_with(checks=checks)["spec"]) == [
        ("checks[0].rule", "bad-params", "catalog.field-present: 'path' is a required property"),
        (
            "checks[1].rule",
            "bad-params",
            "oncall.levels: Additional properties are not allowed ('extra' was unexpected)",
        ),
        ("checks[1].rule.min", "bad-params", "oncall.levels: 0 is less than the minimum of 1"),
        (
            "checks[2].rule.pattern",
            "bad-params",
            "catalog.field-matches: '(' is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
    ]


def test_duplicate_ids_duplicate_levels_and_unknown_levels():
    checks = [
        {"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "oncall.has-policy"}},
        {"id": "a", "level": "Platinum", "title": "t", "rule": {"type": "oncall.has-policy"}},
    ]
    spec = _with(levels=["Bronze", {"name": "Bronze"}, "Silver"], checks=checks)["spec"]
    assert _problems(spec) == [
        ("levels[1]", "duplicate-level", "level 'Bronze' is declared twice"),
        ("checks[1].id", "duplicate-check-id", "check id 'a' is used twice"),
        ("checks[1].level", "unknown-level", "level 'Platinum' is not one of the declared levels ['Bronze', 'Silver']"),
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"levels": []}, [("levels", "bad-shape", "must be a non-empty list of level names, lowest first")]),
        ({"levels": "Bronze"}, [("levels", "bad-shape", "must be a non-empty list of level names, lowest first")]),
        ({"levels": ["Bronze", 5]}, [("levels[1]", "bad-shape", "must be a level name or {name: ...}, found 5")]),
        (
            {"levels": ["Bronze", {"title": "x"}]},
            [("levels[1]", "bad-shape", "must be a level name or {name: ...}, found {'title': 'x'}")],
        ),
        ({"checks": []}, [("checks", "bad-shape", "must be a non-empty list of checks")]),
        ({"checks": ["x"]}, [("checks[0]", "bad-shape", "must be an object with id, level, title and rule")]),
        ({"filter": 5}, [("filter", "bad-filter", "must be a filter string or a list of filter strings")]),
        (
            {"filter": ["kind=component", "=x"]},
            [("filter", "bad-filter", "'=x' is not a filter statement (expected a=b, a= or a)")],
        ),
    ],
)
def test_shape_problems(change, expected):
    spec = _with(**change)["spec"]
    assert _problems(spec) == expected


def test_check_shape_problems():
    check = {
        "level": "Bronze",
        "title": "",
        "rule": "catalog.field-present",
        "weight": -2,
        "colour": "red",
        "filter": [3],
    }
    assert _problems(_with(checks=[check])["spec"]) == [
        ("checks[0].id", "bad-shape", "is required"),
        (
            "checks[0].colour",
            "bad-shape",
            "is not a check field (known: description, filter, id, level, remediation, "
            "remediationUrl, rule, title, weight)",
        ),
        ("checks[0].title", "bad-shape", "must be a non-empty string"),
        ("checks[0].weight", "bad-shape", "must be a number >= 0, found -2"),
        ("checks[0].filter", "bad-filter", "must be a filter string or a list of filter strings"),
        (
            "checks[0].rule",
            "bad-shape",
            "must be an object with a type, e.g. {type: catalog.field-present, path: spec.lifecycle}",
        ),
    ]


@pytest.mark.parametrize("weight", [True, float("nan"), float("inf"), "2", None])
def test_weights_must_be_finite_numbers(weight):
    check = {"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "oncall.has-policy"}, "weight": weight}
    [(path, _, _)] = _problems(_with(checks=[check])["spec"])
    assert path == "checks[0].weight"


def test_parse_raises_with_every_problem_and_the_ref():
    bad = _with(
        levels=["Bronze", "Bronze"], checks=[{"id": "a", "level": "Gold", "title": "t", "rule": {"type": "x.y"}}]
    )
    with pytest.raises(ScorecardSpecError) as caught:
        parse_scorecard(bad)
    assert [p.code for p in caught.value.problems] == ["duplicate-level", "unknown-level", "unknown-rule-type"]
    assert str(caught.value).startswith(
        "scorecard:default/service-maturity: spec.levels[1]: level 'Bronze' is declared twice; spec.checks[0].level:"
    )


def test_parse_refuses_other_kinds_and_nameless_entities():
    with pytest.raises(ScorecardSpecError, match="kind is 'Component', not Scorecard"):
        parse_scorecard({**SCORECARD, "kind": "Component"})
    with pytest.raises(ScorecardSpecError, match=r"the entity has no kind or metadata\.name"):
        parse_scorecard({**SCORECARD, "metadata": {}})


@pytest.mark.parametrize("spec", [None, "text", 5, [], {"levels": None, "checks": None}])
def test_hostile_specs_give_problems_not_exceptions(spec):
    assert validate_scorecard_spec(spec)
    with pytest.raises(ScorecardSpecError):
        parse_scorecard({**SCORECARD, "spec": spec})


def test_entity_problems_have_paths_from_the_entity_root():
    bad = _with(checks=[{"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "x.y"}}])
    assert [(p.path, p.code) for p in entity_problems(bad)] == [("spec.checks[0].rule.type", "unknown-rule-type")]
    assert [(p.path, p.message) for p in entity_problems({"kind": "Scorecard"})] == [("spec", "spec must be an object")]
    assert entity_problems(SCORECARD) == []
