from __future__ import annotations

from datetime import timedelta

import pytest

from scorecards.checks import rule_get
from scorecards.engine.model import State
from tests.scorecards.builders import component, entity_facts, fact, run

TEMPLATE = "template:default/python-service"
KEY = f"template.versions:{TEMPLATE}"
TAGS = ["v1.0.0", "v1.1.0", "v1.2.0", "v2.0.0", "v2.1.0-rc1", "latest", "not-a-version"]


def _created(version="v1.1.0", template="template:default/python-service"):
    annotations = {"backstage.io/source-template": template}
    if version is not None:
        annotations["paved.dev/template-version"] = version
    return component(annotations=annotations)


def _facts(entity, *, exists=True, tags=TAGS, **kwargs):
    return entity_facts(entity, fact(KEY, {"exists": exists, "versions": tags}, source="catalog", **kwargs))


def test_versions_behind_counts_newer_releases_only():
    entity = _created("v1.1.0")
    ok = run("template.current", entity, _facts(entity), maxVersionsBehind=2)
    assert ok.state is State.PASS
    assert ok.evidence.value == {"template": TEMPLATE, "version": "v1.1.0", "latest": "2.0.0", "behind": 2}
    too_old = run("template.current", entity, _facts(entity), maxVersionsBehind=1)
    assert too_old.state is State.FAIL
    assert too_old.evidence.message == (
        "created from template:default/python-service v1.1.0, 2 versions behind 2.0.0 (at most 1 allowed)"
    )


def test_latest_version_is_zero_behind_and_versions_compare_numerically():
    entity = _created("1.10.0")
    found = _facts(entity, tags=["1.9.0", "1.10.0", "1.2.0"])
    result = run("template.current", entity, found, maxVersionsBehind=0)
    assert (result.state, result.evidence.value["behind"]) == (State.PASS, 0)


def test_short_template_names_resolve_to_template_refs():
    entity = _created("v2.0.0", template="python-service")
    assert rule_get("template.current").facts({"maxVersionsBehind": 0}, entity) == {"catalog.entity", KEY}
    assert run("template.current", entity, _facts(entity), maxVersionsBehind=0).state is State.PASS


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        (component(), "annotation backstage.io/source-template is missing: not created from a template"),
        (
            component(annotations={"backstage.io/source-template": "a:b:c"}),
            "annotation backstage.io/source-template is 'a:b:c', not a template ref: not created from a template",
        ),
    ],
)
def test_not_created_from_a_template_fails(entity, message):
    result = run("template.current", entity, entity_facts(entity), maxVersionsBehind=3)
    assert (result.state, result.evidence.message) == (State.FAIL, message)


def test_unsanctioned_template_fails():
    entity = _created()
    result = run("template.current", entity, _facts(entity, exists=False, tags=[]), maxVersionsBehind=3)
    assert result.state is State.FAIL
    assert (
        result.evidence.message == "template:default/python-service is not a sanctioned template (not in the catalog)"
    )


def test_templates_parameter_narrows_the_sanctioned_set():
    entity = _created()
    narrowed = run("template.current", entity, _facts(entity), maxVersionsBehind=5, templates=["go-service"])
    assert narrowed.state is State.FAIL
    allowed = run("template.current", entity, _facts(entity), maxVersionsBehind=5, templates=["Python-Service"])
    assert allowed.state is State.PASS


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (None, "annotation paved.dev/template-version is missing"),
        ("banana", "annotation paved.dev/template-version is 'banana', not a version"),
    ],
)
def test_missing_or_unparsable_entity_version_fails(version, message):
    entity = _created(version)
    result = run("template.current", entity, _facts(entity), maxVersionsBehind=3)
    assert (result.state, result.evidence.message) == (State.FAIL, message)


def test_versions_fact_missing_broken_or_old():
    entity = _created()
    missing = run("template.current", entity, entity_facts(entity), maxVersionsBehind=3)
    assert (missing.state, missing.evidence.message) == (State.ERROR, f"fact {KEY} has not been collected")
    broken = entity_facts(entity, fact(KEY, None, error="catalog unavailable"))
    assert run("template.current", entity, broken, maxVersionsBehind=3).state is State.ERROR
    old = _facts(entity, age=timedelta(days=10))
    assert run("template.current", entity, old, maxVersionsBehind=3, max_age=timedelta(days=7)).state is State.STALE


def test_entity_changed_since_facts_were_named_is_an_error():
    named_for = _created(template="template:default/python-service")
    changed = _created(template="template:default/go-service")
    found = _facts(named_for) | {"catalog.entity": fact("catalog.entity", changed)}
    result = run("template.current", named_for, found, maxVersionsBehind=3)
    assert result.state is State.ERROR
    assert result.evidence.message == "versions of template:default/go-service were not collected"


@pytest.mark.parametrize(
    ("params", "where", "fragment"),
    [
        ({}, "", "'maxVersionsBehind' is a required property"),
        ({"maxVersionsBehind": -1}, "maxVersionsBehind", "less than the minimum"),
        ({"maxVersionsBehind": 1.5}, "maxVersionsBehind", "is not of type 'integer'"),
        ({"maxVersionsBehind": 1, "templates": ["a:b:c"]}, "templates.0", "was not on the form"),
        ({"maxVersionsBehind": 1, "templates": []}, "templates", "should be non-empty"),
    ],
)
def test_bad_parameters(params, where, fragment):
    problems = rule_get("template.current").params_problems(params)
    assert problems
    assert problems[0][0] == where
    assert fragment in problems[0][1]


def test_hostile_versions_never_raise():
    entity = _created()
    for tags in ([None, 5, {"a": 1}, "v" * 10_000, "1" * 5000], "not a list"):
        value = {"exists": True, "versions": tags if isinstance(tags, list) else []}
        found = entity_facts(entity, fact(KEY, value))
        assert run("template.current", entity, found, maxVersionsBehind=0).state in (State.PASS, State.FAIL)
