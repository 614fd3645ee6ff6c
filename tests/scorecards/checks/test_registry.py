from __future__ import annotations

import pytest

from scorecards.checks import Rule, RuleError, register_rule, rule_find, rule_get, rule_list, unregister_rule
from scorecards.engine.model import Evidence, State

BUILTIN = {
    "catalog.field-present",
    "catalog.field-equals",
    "catalog.field-matches",
    "catalog.annotation-present",
    "catalog.link-present",
    "catalog.owner-is-group",
    "catalog.relation-exists",
    "repo.file-exists",
    "repo.file-matches",
    "repo.dependency",
    "template.current",
    "oncall.has-policy",
    "oncall.levels",
    "oncall.coverage",
    "oncall.rotation-size",
    "oncall.balance",
}


def _judge(params, entity, facts, now):
    return State.PASS, Evidence(None, "test", now, "ok")


def _rule(rule_type="test.always", schema=None):
    return Rule(rule_type, "Always", schema or {"type": "object"}, lambda params, entity: set(), _judge)


def test_every_builtin_rule_is_registered_sorted_and_documented():
    rules = rule_list()
    assert {rule.type for rule in rules} == BUILTIN
    assert [rule.type for rule in rules] == sorted(rule.type for rule in rules)
    for rule in rules:
        assert rule.title
        assert rule.params_schema["type"] == "object"
        assert rule.params_schema["additionalProperties"] is False


def test_register_and_unregister_a_rule():
    rule = register_rule(_rule())
    try:
        assert rule_get("test.always") is rule
        with pytest.raises(RuleError, match=r"rule type test\.always is already registered"):
            register_rule(_rule())
        replacement = register_rule(_rule(), replace_existing=True)
        assert rule_get("test.always") is replacement
    finally:
        unregister_rule("test.always")
    assert rule_find("test.always") is None


def test_unknown_rule_type_names_the_known_ones():
    with pytest.raises(RuleError, match=r"unknown rule type 'nope'; known types: catalog.annotation-present, "):
        rule_get("nope")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (_rule("nodot"), "rule type 'nodot' must be on the form family.name"),
        (_rule(""), "rule type '' must be on the form family.name"),
        (_rule("test.bad", {"type": "objekt"}), "rule test.bad has an invalid parameter schema"),
    ],
)
def test_bad_rules_are_refused(rule, message):
    with pytest.raises(RuleError, match=message):
        register_rule(rule)
    assert rule_find(rule.type) is None
