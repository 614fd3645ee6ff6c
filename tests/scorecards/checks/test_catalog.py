from __future__ import annotations

from datetime import timedelta

import pytest

from scorecards.checks import rule_get
from scorecards.engine.model import State
from tests.scorecards.builders import NOW, component, entity_facts, fact, facts, run

ANNOTATED = component(
    annotations={"backstage.io/techdocs-ref": "dir:.", "paved.dev/escalation-policy": "payments", "empty": "  "},
    tags=["python", "payments"],
    links=[{"url": "https://runbooks.example.com/payments", "type": "Runbook"}, {"url": "", "type": "dashboard"}],
)


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ("spec.lifecycle", State.PASS),
        ("metadata.annotations.backstage.io/techdocs-ref", State.PASS),
        ("metadata.tags", State.PASS),
        ("spec.system", State.FAIL),
        ("metadata.annotations.empty", State.PASS),  # a blank-looking string is still a string with content
        ("metadata.description", State.FAIL),
    ],
)
def test_field_present(path, state):
    result = run("catalog.field-present", ANNOTATED, entity_facts(ANNOTATED), path=path)
    assert result.state is state
    assert result.evidence.source == "catalog"
    assert result.evidence.observed_at == NOW - timedelta(minutes=5)


def test_field_present_treats_empty_values_as_missing():
    entity = component(description="", tags=[])
    for path in ("metadata.description", "metadata.tags"):
        result = run("catalog.field-present", entity, entity_facts(entity), path=path)
        assert result.state is State.FAIL
        assert result.evidence.message == f"{path} is missing or empty"


def test_field_equals_pass_fail_and_lists():
    assert (
        run("catalog.field-equals", ANNOTATED, entity_facts(ANNOTATED), path="spec.lifecycle", value="production").state
        is State.PASS
    )
    assert (
        run("catalog.field-equals", ANNOTATED, entity_facts(ANNOTATED), path="metadata.tags", value="python").state
        is State.PASS
    )
    failed = run(
        "catalog.field-equals", ANNOTATED, entity_facts(ANNOTATED), path="spec.lifecycle", value="experimental"
    )
    assert failed.state is State.FAIL
    assert failed.evidence.value == "production"
    assert failed.evidence.message == "spec.lifecycle is 'production', expected 'experimental'"
    missing = run("catalog.field-equals", ANNOTATED, entity_facts(ANNOTATED), path="spec.system", value="x")
    assert (missing.state, missing.evidence.message) == (State.FAIL, "spec.system is missing; expected 'x'")


def test_field_equals_is_exact_about_case_and_type():
    entity = component(spec={"type": "service", "replicas": 3, "public": True})
    assert (
        run("catalog.field-equals", entity, entity_facts(entity), path="spec.type", value="Service").state is State.FAIL
    )
    assert run("catalog.field-equals", entity, entity_facts(entity), path="spec.replicas", value=3).state is State.PASS
    assert (
        run("catalog.field-equals", entity, entity_facts(entity), path="spec.replicas", value="3").state is State.FAIL
    )
    assert run("catalog.field-equals", entity, entity_facts(entity), path="spec.public", value=True).state is State.PASS
    assert run("catalog.field-equals", entity, entity_facts(entity), path="spec.public", value=1).state is State.FAIL
    one = component(spec={"replicas": 1, "flags": [1, "x"]})
    assert run("catalog.field-equals", one, entity_facts(one), path="spec.replicas", value=True).state is State.FAIL
    assert run("catalog.field-equals", one, entity_facts(one), path="spec.flags", value=True).state is State.FAIL
    assert run("catalog.field-equals", one, entity_facts(one), path="spec.replicas", value=1.0).state is State.PASS


def test_field_matches():
    ok = run("catalog.field-matches", ANNOTATED, entity_facts(ANNOTATED), path="metadata.name", pattern=r"^[a-z-]+$")
    assert ok.state is State.PASS
    in_list = run("catalog.field-matches", ANNOTATED, entity_facts(ANNOTATED), path="metadata.tags", pattern="^pay")
    assert in_list.state is State.PASS
    bad = run("catalog.field-matches", ANNOTATED, entity_facts(ANNOTATED), path="metadata.name", pattern=r"^svc-")
    assert bad.state is State.FAIL
    assert bad.evidence.message == "metadata.name is 'payments-api', which does not match /^svc-/"
    missing = run("catalog.field-matches", ANNOTATED, entity_facts(ANNOTATED), path="spec.nothing", pattern="x")
    assert missing.state is State.FAIL


def test_field_matches_skips_nested_structures():
    entity = component(spec={"type": "service", "nested": [{"a": "match-me"}]})
    assert (
        run("catalog.field-matches", entity, entity_facts(entity), path="spec.nested", pattern="match").state
        is State.FAIL
    )


def test_annotation_present():
    assert (
        run("catalog.annotation-present", ANNOTATED, entity_facts(ANNOTATED), key="backstage.io/techdocs-ref").state
        is State.PASS
    )
    blank = run("catalog.annotation-present", ANNOTATED, entity_facts(ANNOTATED), key="empty")
    assert (blank.state, blank.evidence.message) == (State.FAIL, "annotation empty is missing or empty")
    assert run("catalog.annotation-present", component(), entity_facts(component()), key="x").state is State.FAIL


def test_link_present_ignores_case_and_needs_a_url():
    ok = run("catalog.link-present", ANNOTATED, entity_facts(ANNOTATED), linkType="runbook")
    assert (ok.state, ok.evidence.value) == (State.PASS, "https://runbooks.example.com/payments")
    no_url = run("catalog.link-present", ANNOTATED, entity_facts(ANNOTATED), linkType="dashboard")
    assert no_url.state is State.FAIL
    assert no_url.evidence.message == "no link of type dashboard; links have types Runbook, dashboard"
    none = run("catalog.link-present", component(), entity_facts(component()), linkType="runbook")
    assert none.evidence.message == "no link of type runbook; the entity has no typed links"


def test_relation_exists_with_and_without_target_kind():
    entity = component(
        relations=[
            {"type": "ownedBy", "targetRef": "group:default/payments"},
            {"type": "dependsOn", "targetRef": "resource:default/payments-db"},
        ]
    )
    assert run("catalog.relation-exists", entity, entity_facts(entity), relationType="dependsOn").state is State.PASS
    assert run("catalog.relation-exists", entity, entity_facts(entity), relationType="dependson").state is State.PASS
    assert (
        run(
            "catalog.relation-exists", entity, entity_facts(entity), relationType="dependsOn", targetKind="Resource"
        ).state
        is State.PASS
    )
    wrong_kind = run(
        "catalog.relation-exists", entity, entity_facts(entity), relationType="dependsOn", targetKind="API"
    )
    assert (wrong_kind.state, wrong_kind.evidence.message) == (State.FAIL, "no dependsOn relation to a API")
    assert run("catalog.relation-exists", entity, entity_facts(entity), relationType="providesApi").state is State.FAIL


def _owner(value):
    return facts(fact("catalog.owner", value, source="catalog"))


def test_owner_is_group():
    members = ["user:default/alice", "user:default/bob", "user:default/alice"]
    group = {"ref": "group:default/payments", "kind": "Group", "members": members}
    ok = run("catalog.owner-is-group", component(), _owner(group), minMembers=2)
    assert ok.state is State.PASS
    assert ok.evidence.message == "the owner group:default/payments is a Group with 2 members"
    small = run("catalog.owner-is-group", component(), _owner(group), minMembers=3)
    assert small.evidence.message == "the owner group:default/payments has 2 members, at least 3 needed"
    assert small.state is State.FAIL
    assert run("catalog.owner-is-group", component(), _owner({**group, "members": []})).state is State.FAIL


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"ref": "user:default/alice", "kind": "User", "members": []},
            "the owner user:default/alice is a User, not a Group",
        ),
        (
            {"ref": "group:default/gone", "kind": None, "members": []},
            "the owner group:default/gone is not in the catalog",
        ),
        ({"ref": None, "kind": None, "members": []}, "the entity has no owner"),
    ],
)
def test_owner_is_group_fails_for_users_unknown_owners_and_no_owner(value, message):
    result = run("catalog.owner-is-group", component(), _owner(value))
    assert (result.state, result.evidence.message) == (State.FAIL, message)


@pytest.mark.parametrize(
    ("rule_type", "params"),
    [
        ("catalog.field-present", {"path": "spec.lifecycle"}),
        ("catalog.field-equals", {"path": "spec.lifecycle", "value": "production"}),
        ("catalog.field-matches", {"path": "spec.lifecycle", "pattern": "."}),
        ("catalog.annotation-present", {"key": "a"}),
        ("catalog.link-present", {"linkType": "runbook"}),
        ("catalog.relation-exists", {"relationType": "ownedBy"}),
    ],
)
def test_catalog_rules_give_error_without_the_entity_fact_and_stale_with_an_old_one(rule_type, params):
    entity = component()
    missing = run(rule_type, entity, {}, **params)
    assert missing.state is State.ERROR
    assert missing.evidence.message == "fact catalog.entity has not been collected"
    broken = run(rule_type, entity, facts(fact("catalog.entity", None, error="database unavailable")), **params)
    assert broken.state is State.ERROR
    assert broken.evidence.message == "catalog.entity could not be collected: database unavailable"
    old = entity_facts(entity) | {"catalog.entity": fact("catalog.entity", entity, age=timedelta(days=3))}
    stale = run(rule_type, entity, old, max_age=timedelta(days=1), **params)
    assert stale.state is State.STALE
    assert stale.evidence.message == "catalog.entity was collected 3d ago, more than the 1d allowed"
    fresh = run(rule_type, entity, old, max_age=timedelta(days=4), **params)
    assert fresh.state in (State.PASS, State.FAIL)


def test_owner_rule_needs_the_owner_fact():
    assert run("catalog.owner-is-group", component(), entity_facts(component())).state is State.ERROR
    assert rule_get("catalog.owner-is-group").facts({}, component()) == {"catalog.owner"}


@pytest.mark.parametrize(
    ("rule_type", "params", "where", "fragment"),
    [
        ("catalog.field-present", {}, "", "'path' is a required property"),
        ("catalog.field-present", {"path": ""}, "path", "should be non-empty"),
        ("catalog.field-present", {"path": "a", "extra": 1}, "", "Additional properties are not allowed"),
        ("catalog.field-equals", {"path": "a", "value": {"x": 1}}, "value", "is not of type"),
        (
            "catalog.field-matches",
            {"path": "a", "pattern": "(unclosed"},
            "pattern",
            "is not a valid regular expression",
        ),
        ("catalog.annotation-present", {"key": 5}, "key", "is not of type 'string'"),
        ("catalog.link-present", {}, "", "'linkType' is a required property"),
        ("catalog.owner-is-group", {"minMembers": -1}, "minMembers", "is less than the minimum of 0"),
        ("catalog.owner-is-group", {"minMembers": "2"}, "minMembers", "is not of type 'integer'"),
        ("catalog.relation-exists", {"relationType": ""}, "relationType", "should be non-empty"),
    ],
)
def test_bad_parameters_are_named(rule_type, params, where, fragment):
    problems = rule_get(rule_type).params_problems(params)
    assert problems, params
    assert problems[0][0] == where
    assert fragment in problems[0][1]


def test_bad_parameters_give_error_when_evaluated_anyway():
    result = run("catalog.field-matches", component(), entity_facts(component()), path="a", pattern="(")
    assert result.state is State.ERROR
    assert result.evidence.message.startswith("bad parameters: pattern: '(' is not a valid regular expression")


def test_hostile_entity_shapes_never_raise():
    hostile = [
        {},
        {"metadata": None, "spec": "text", "relations": "nope"},
        {
            "metadata": {"annotations": ["a"], "links": [None, 5, {"type": 3, "url": None}]},
            "relations": [None, {"type": 1}],
        },
        {"metadata": {"name": "x" * 100_000}},
    ]
    cases = [
        ("catalog.field-present", {"path": "metadata.name"}),
        ("catalog.field-matches", {"path": "metadata.name", "pattern": "^x+$"}),
        ("catalog.annotation-present", {"key": "a"}),
        ("catalog.link-present", {"linkType": "runbook"}),
        ("catalog.relation-exists", {"relationType": "ownedBy"}),
    ]
    for entity in hostile:
        for rule_type, params in cases:
            assert run(rule_type, entity, entity_facts(entity), **params).state in (State.PASS, State.FAIL)
    assert run("catalog.owner-is-group", {}, _owner("not a mapping")).state is State.FAIL
