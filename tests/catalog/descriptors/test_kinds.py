from __future__ import annotations

import pytest

from catalog.descriptors import (
    KindRegistryError,
    KindSpec,
    RelationField,
    SpecIssue,
    get_kind,
    register_kind,
    relations_for,
    set_extra_validator,
    unregister_kind,
    validate_entity,
)

SCHEDULE = {
    "apiVersion": "paved.dev/v1alpha1",
    "kind": "Schedule",
    "metadata": {"name": "payments-primary"},
    "spec": {
        "owner": "group:payments",
        "timezone": "Europe/Berlin",
        "layers": [
            {"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": ["user:alice", "user:bob"]},
            {
                "start": "2026-01-05T09:00",
                "turn": "1d",
                "members": ["user:dave"],
                "restrictions": [{"weekly": {"from": "mon 09:00", "to": "fri 17:00"}}],
            },
        ],
        "overrides": [{"user": "user:erin", "from": "2026-03-07T09:00", "to": "2026-03-08T09:00"}],
    },
}

POLICY = {
    "apiVersion": "paved.dev/v1alpha1",
    "kind": "EscalationPolicy",
    "metadata": {"name": "payments"},
    "spec": {
        "owner": "group:payments",
        "repeat": 1,
        "levels": [
            {"delayMinutes": 15, "targets": ["schedule:payments-primary"]},
            {"delayMinutes": 30, "targets": ["schedule:payments-secondary", "user:frank"]},
        ],
    },
}

SCORECARD = {
    "apiVersion": "paved.dev/v1alpha1",
    "kind": "Scorecard",
    "metadata": {"name": "service-maturity"},
    "spec": {
        "filter": "kind=component,spec.type=service",
        "levels": [{"name": "Bronze"}, {"name": "Silver"}],
        "checks": [
            {"id": "has-owner", "level": "Bronze", "title": "Has an owner", "rule": {"type": "field-present"}},
            {
                "id": "has-oncall",
                "level": "Silver",
                "title": "On call",
                "rule": {"type": "oncall-policy", "minLevels": 2},
                "remediation": "Add paved.dev/escalation-policy.",
            },
        ],
    },
}


def _issues(entity):
    return validate_entity(entity, file="k.yaml", document=0)


def test_paved_schedule_policy_and_scorecard_are_valid():
    assert _issues(SCHEDULE) == []
    assert _issues(POLICY) == []
    assert _issues(SCORECARD) == []


def test_schedule_structure_is_checked():
    entity = {**SCHEDULE, "spec": {"owner": "group:p", "timezone": "UTC", "layers": [{"start": "x", "members": []}]}}
    assert [(i.path, i.expected) for i in _issues(entity)] == [
        ("spec.layers[0].turn", "a value (the field is required)"),
        ("spec.layers[0].members", "a list of at least 1 item"),
    ]


def test_schedule_restriction_must_be_daily_or_weekly():
    spec = {**SCHEDULE["spec"], "layers": [{"start": "x", "turn": "1d", "members": ["u"], "restrictions": [{}]}]}
    issue = _issues({**SCHEDULE, "spec": spec})[0]
    assert issue.path == "spec.layers[0].restrictions[0]"
    assert issue.expected == "a mapping with exactly one key"


def test_policy_levels_need_targets_and_non_negative_delay():
    spec = {"owner": "group:p", "levels": [{"delayMinutes": -1, "targets": []}]}
    assert [(i.path, i.expected) for i in _issues({**POLICY, "spec": spec})] == [
        ("spec.levels[0].delayMinutes", "a number of at least 0"),
        ("spec.levels[0].targets", "a list of at least 1 item"),
    ]


def test_scorecard_filter_may_be_a_list_and_owner_is_optional():
    spec = {**SCORECARD["spec"], "filter": ["kind=component", "kind=api"]}
    assert _issues({**SCORECARD, "spec": spec}) == []


def test_scorecard_checks_must_reference_declared_levels_and_be_unique():
    checks = [
        {"id": "a", "level": "Gold", "title": "t", "rule": {"type": "x"}},
        {"id": "a", "level": "Bronze", "title": "t", "rule": {"type": "x"}},
    ]
    spec = {"levels": [{"name": "Bronze"}, {"name": "Bronze"}], "checks": checks}
    assert [(i.path, i.message.split(": ", 2)[-1]) for i in _issues({**SCORECARD, "spec": spec})] == [
        ("spec.levels[1].name", "level 'Bronze' is declared twice"),
        ("spec.checks[0].level", "check level 'Gold' is not one of the declared levels ['Bronze', 'Bronze']"),
        ("spec.checks[1].id", "check id 'a' is used twice"),
    ]


def test_scorecard_rule_needs_a_type():
    spec = {"levels": [{"name": "B"}], "checks": [{"id": "a", "level": "B", "title": "t", "rule": {}}]}
    assert [i.path for i in _issues({**SCORECARD, "spec": spec})] == ["spec.checks[0].rule.type"]


def test_extra_validator_can_be_attached_from_outside_and_detached():
    calls = []

    def validate_schedule_spec(spec):
        calls.append(spec)
        return [SpecIssue("layers[0].turn", "turn must be hours, days or weeks"), SpecIssue("", "whole spec")]

    set_extra_validator("Schedule", validate_schedule_spec)
    try:
        issues = _issues(SCHEDULE)
    finally:
        set_extra_validator("Schedule", None)
    assert calls == [SCHEDULE["spec"]]
    assert calls[0] is not SCHEDULE["spec"]  # the hook gets a copy it may not mutate ours through
    assert [(i.path, i.message) for i in issues] == [
        (
            "spec.layers[0].turn",
            "k.yaml, document 0 (schedule:default/payments-primary): spec.layers[0].turn: turn must be hours,"
            " days or weeks",
        ),
        ("spec", "k.yaml, document 0 (schedule:default/payments-primary): spec: whole spec"),
    ]
    assert _issues(SCHEDULE) == []


def test_extra_validator_is_not_called_when_the_schema_fails():
    calls = []
    set_extra_validator("EscalationPolicy", lambda spec: calls.append(spec) or [])
    try:
        _issues({**POLICY, "spec": {"owner": "g"}})
    finally:
        set_extra_validator("EscalationPolicy", None)
    assert calls == []


def test_a_crashing_extra_validator_becomes_an_issue():
    def broken(spec):
        raise RuntimeError("bug")

    set_extra_validator("EscalationPolicy", broken)
    try:
        issues = _issues(POLICY)
    finally:
        set_extra_validator("EscalationPolicy", None)
    assert [(i.path, i.message.rsplit(": ", 2)[-2:]) for i in issues] == [("spec", ["could not be validated", "bug"])]


def test_set_extra_validator_on_unknown_kind_raises():
    with pytest.raises(KeyError):
        set_extra_validator("Widget", None)


def test_registering_a_new_kind_validates_and_relates_through_the_same_machinery():
    spec = KindSpec(
        api_versions=("example.com/v1",),
        kind="Widget",
        schema={"type": "object", "required": ["owner"], "properties": {"owner": {"type": "string"}}},
        relation_fields=(RelationField("owner", "Group", "ownedBy", "ownerOf"),),
    )
    register_kind(spec)
    try:
        entity = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
        assert [i.path for i in _issues(entity)] == ["spec.owner"]
        entity["spec"] = {"owner": "team-a"}
        assert _issues(entity) == []
        assert [(r.type, r.target) for r in relations_for(entity)] == [
            ("ownedBy", "group:default/team-a"),
            ("ownerOf", "widget:default/w"),
        ]
        with pytest.raises(KindRegistryError, match="already registered"):
            register_kind(spec)
    finally:
        unregister_kind("Widget")
    assert get_kind("Widget", "example.com/v1") is None


def test_registering_an_invalid_schema_is_refused():
    with pytest.raises(KindRegistryError, match="invalid spec schema"):
        register_kind(KindSpec(("example.com/v1",), "Broken", {"type": "no-such-type"}))
    with pytest.raises(KindRegistryError, match="at least one apiVersion"):
        register_kind(KindSpec((), "Broken", {}))
