from __future__ import annotations

import pytest

from catalog.descriptors import validate_entity


def _scorecard(levels, checks=None):
    checks = checks or [{"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "catalog.field-present"}}]
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Scorecard",
        "metadata": {"name": "maturity"},
        "spec": {"levels": levels, "checks": checks},
    }


def _issues(entity):
    return [
        (issue.path, issue.expected, issue.message.split(": ", 2)[-1])
        for issue in validate_entity(entity, file="s.yaml", document=0)
    ]


@pytest.mark.parametrize(
    "levels",
    [["Bronze", "Silver", "Gold"], [{"name": "Bronze"}, {"name": "Silver"}], ["Bronze", {"name": "Silver"}]],
)
def test_scorecard_levels_may_be_plain_names_or_name_objects(levels):
    assert _issues(_scorecard(levels)) == []


@pytest.mark.parametrize("level", [5, {}, "", {"name": ""}, ["Bronze"], None])
def test_scorecard_level_that_is_neither_a_name_nor_a_name_object_is_refused(level):
    issues = _issues(_scorecard(["Bronze", level]))
    assert [(path, expected) for path, expected, _ in issues] == [("spec.levels[1]", "a string or a mapping")]


def _extra(entity):
    return [(path, message) for path, _, message in _issues(entity)]


def test_duplicate_levels_are_named_in_either_form():
    assert _extra(_scorecard(["Bronze", "Bronze"])) == [
        ("spec.levels[1]", "level 'Bronze' is declared twice"),
    ]
    assert _extra(_scorecard([{"name": "Bronze"}, "Bronze", {"name": "Bronze"}])) == [
        ("spec.levels[1]", "level 'Bronze' is declared twice"),
        ("spec.levels[2].name", "level 'Bronze' is declared twice"),
    ]


def test_check_level_must_be_a_declared_plain_level():
    checks = [{"id": "a", "level": "Gold", "title": "t", "rule": {"type": "x"}}]
    assert _extra(_scorecard(["Bronze", "Silver"], checks)) == [
        ("spec.checks[0].level", "check level 'Gold' is not one of the declared levels ['Bronze', 'Silver']"),
    ]


def test_checks_take_weight_remediation_url_description_and_filter():
    checks = [
        {
            "id": "a",
            "level": "Bronze",
            "title": "t",
            "description": "why",
            "rule": {"type": "catalog.field-present", "path": "spec.lifecycle"},
            "remediation": "set it",
            "remediationUrl": "https://docs.example.com/lifecycle",
            "weight": 2.5,
            "filter": ["spec.lifecycle=production", "kind=api"],
        }
    ]
    assert _issues(_scorecard(["Bronze"], checks)) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("weight", -1, "a number of at least 0"),
        ("weight", "heavy", "a number"),
        ("remediationUrl", 5, "a string"),
        ("filter", 5, "a string or a list"),
        ("filter", [""], "a string or a list"),
    ],
)
def test_bad_optional_check_fields_are_named(field, value, expected):
    check = {"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "x"}, field: value}
    issues = _issues(_scorecard(["Bronze"], [check]))
    assert [(path, exp) for path, exp, _ in issues][:1] == [(f"spec.checks[0].{field}", expected)]
