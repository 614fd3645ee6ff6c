"""The actions registry: the four built-in actions, lookups, and input errors that name the field."""

from __future__ import annotations

import pytest

from scaffolder.actions import ActionError, action_get, action_list, register, validate_input


def test_importing_the_package_registers_the_built_in_actions_sorted():
    ids = [action.id for action in action_list()]

    assert {"debug:log", "fetch:plain", "fetch:template", "publish:git"} <= set(ids)
    assert ids == sorted(ids)


def test_action_get_returns_the_registered_instance():
    action = action_get("fetch:template")

    assert action.id == "fetch:template"
    assert action.description
    assert action.input_schema["type"] == "object"


def test_action_get_refuses_an_unknown_action():
    with pytest.raises(ActionError) as caught:
        action_get("fetch:nothing")

    assert caught.value.code == "unknown"
    assert "unknown action 'fetch:nothing'" in caught.value.message


def test_register_refuses_a_second_action_under_a_taken_id():
    class Other:
        id = "debug:log"
        description = "another"
        input_schema: dict = {"type": "object"}
        output_schema: dict = {"type": "object"}

        def run(self, ctx):
            return {}

    with pytest.raises(ValueError, match="already registered"):
        register(Other())


def test_validate_input_names_the_nested_field_path():
    action = action_get("fetch:template")

    with pytest.raises(ActionError) as caught:
        validate_input(action, {"url": "./skeleton", "copyWithoutTemplating": ["ok", 3]})

    assert caught.value.code == "input"
    assert "input.copyWithoutTemplating[1]" in caught.value.message
    assert "fetch:template" in caught.value.message


def test_validate_input_names_a_missing_required_field():
    with pytest.raises(ActionError) as caught:
        validate_input(action_get("publish:git"), {"description": "x"})

    assert "'repoUrl' is a required property" in caught.value.message


def test_validate_input_refuses_unknown_fields():
    with pytest.raises(ActionError) as caught:
        validate_input(action_get("debug:log"), {"message": "hi", "colour": "red"})

    assert "colour" in caught.value.message


def test_validate_input_accepts_a_valid_input():
    validate_input(action_get("publish:git"), {"repoUrl": "local?owner=payments&repo=checkout"})
