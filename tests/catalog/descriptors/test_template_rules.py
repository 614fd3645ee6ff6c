"""The pure rules of a Template (scaffolder.backstage.io/v1beta3): a type, at least one step, an action per step and
unique step ids, each broken rule named by its path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.descriptors import validate_entity


def template(spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "svc"},
        "spec": spec,
    }


def problems(spec: Any) -> list[tuple[str, str]]:
    issues = validate_entity(template(spec), file="template.yaml", document=0)
    return [(issue.path, issue.detail or f"expected {issue.expected}, found {issue.found}") for issue in issues]


def test_a_template_with_a_type_and_steps_is_valid():
    assert problems({"type": "service", "steps": [{"id": "fetch", "action": "fetch:template"}]}) == []


def test_steps_without_ids_are_valid():
    assert problems({"type": "service", "steps": [{"action": "debug:log"}, {"action": "debug:log"}]}) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"steps": [{"action": "debug:log"}]},
            [("spec.type", "expected a value (the field is required), found nothing")],
        ),
        ({"type": "", "steps": [{"action": "debug:log"}]}, [("spec.type", 'expected a non-empty string, found ""')]),
        ({"type": "service"}, [("spec.steps", "expected a value (the field is required), found nothing")]),
        ({"type": "service", "steps": []}, [("spec.steps", "expected a list of at least 1 item, found []")]),
        ({"type": "service", "steps": {"a": 1}}, [("spec.steps", 'expected a list, found {"a": 1}')]),
        (
            {"type": "service", "steps": [{"action": "debug:log"}, {"action": "debug:log"}, {"name": "x"}]},
            [("spec.steps[2].action", "expected a value (the field is required), found nothing")],
        ),
        (
            {"type": "service", "steps": [{"action": 7}]},
            [("spec.steps[0].action", "expected a string, found 7")],
        ),
        (
            {"type": "service", "steps": [{"action": ""}]},
            [("spec.steps[0].action", 'expected a non-empty string, found ""')],
        ),
        (
            {"type": "service", "steps": ["fetch:template"]},
            [("spec.steps[0]", 'expected a mapping, found "fetch:template"')],
        ),
        (
            {"type": "service", "steps": [{"id": 3, "action": "debug:log"}]},
            [("spec.steps[0].id", "expected a string, found 3")],
        ),
    ],
)
def test_broken_template_rules_name_their_path(spec, expected):
    assert problems(spec) == expected


def test_a_step_id_used_twice_is_reported_at_the_second_use():
    spec = {
        "type": "service",
        "steps": [
            {"id": "fetch", "action": "fetch:template"},
            {"id": "publish", "action": "publish:git"},
            {"id": "fetch", "action": "fetch:plain"},
            {"id": "fetch", "action": "debug:log"},
        ],
    }

    assert problems(spec) == [
        ("spec.steps[2].id", "step id 'fetch' is already used by steps[0]; step ids must be unique"),
        ("spec.steps[3].id", "step id 'fetch' is already used by steps[0]; step ids must be unique"),
    ]


def test_the_message_names_the_file_document_entity_and_path():
    [issue] = validate_entity(template({"type": "service", "steps": []}), file="t/template.yaml", document=2)

    assert issue.message == (
        "t/template.yaml, document 2 (template:default/svc): spec.steps: expected a list of at least 1 item, found []"
    )


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=8))
def test_exactly_the_repeated_ids_are_reported(ids):
    spec = {"type": "service", "steps": [{"id": step_id, "action": "debug:log"} for step_id in ids]}

    reported = [path for path, _ in problems(spec)]

    repeats = [f"spec.steps[{index}].id" for index, step_id in enumerate(ids) if step_id in ids[:index]]
    assert reported == repeats
