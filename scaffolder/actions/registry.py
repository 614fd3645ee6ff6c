"""The actions registry: one instance per action id, listed sorted, input checked against each action's schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from .base import Action, ActionError

_ACTIONS: dict[str, Action] = {}


def register(action: Action) -> Action:
    """Add an action; registering a second, different action under an id already taken is a programming error."""
    jsonschema.Draft202012Validator.check_schema(action.input_schema)
    existing = _ACTIONS.get(action.id)
    if existing is not None and existing is not action:
        raise ValueError(f"the action id {action.id!r} is already registered")
    _ACTIONS[action.id] = action
    return action


def action_get(action_id: str) -> Action:
    try:
        return _ACTIONS[action_id]
    except KeyError:
        raise ActionError("unknown", f"unknown action {action_id!r}") from None


def action_list() -> list[Action]:
    return [_ACTIONS[action_id] for action_id in sorted(_ACTIONS)]


def validate_input(action: Action, value: Mapping[str, Any]) -> None:
    """Raise ActionError `input` naming the first failing field path (`input.values.name: …`)."""
    validator = jsonschema.Draft202012Validator(action.input_schema)
    errors = sorted(validator.iter_errors(dict(value)), key=lambda error: list(error.absolute_path))
    if not errors:
        return
    error = errors[0]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    raise ActionError("input", f"{action.id}: input{path}: {error.message}")
