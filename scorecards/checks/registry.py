"""The registry of check types (rules).

A rule is a ``Rule``: its ``type`` (``family.name``), a ``title``, the JSON Schema of its parameters, an optional
``check_params`` for what a schema cannot say (a regular expression that does not compile, a version range that does
not parse), ``facts(params, entity)`` naming the fact keys it reads, and ``judge(params, entity, facts, now)``
returning ``(state, evidence)``.

``judge`` only runs once the engine has made sure every fact named by ``facts`` is present, has no error and is fresh
(``scorecards.engine.evaluate.evaluate_check``); it never sees missing data and may index ``facts[key]`` directly.
It may still return ``error`` for data that is present but unusable (a manifest it cannot read), and
``not-applicable`` where its own docstring says so.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import jsonschema

from scorecards.engine.model import Evidence, Facts, State

Judge = Callable[[Mapping[str, Any], Mapping[str, Any], Facts, datetime], tuple[State, Evidence]]
FactsOf = Callable[[Mapping[str, Any], Mapping[str, Any]], set[str]]
CheckParams = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


class RuleError(ValueError):
    """A rule that cannot be registered, or a lookup of an unknown rule type."""


def _no_extra_checks(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True, slots=True)
class Rule:
    """A check type. ``check_params`` returns ``(path inside params, sentence)`` pairs for parameters that pass the
    schema but cannot work; it is only called on parameters valid against ``params_schema``."""

    type: str
    title: str
    params_schema: Mapping[str, Any]
    facts: FactsOf
    judge: Judge
    check_params: CheckParams = _no_extra_checks
    description: str = ""

    def params_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every problem of ``params``: schema violations first (path, message), then ``check_params``.

        Remembered per rule and parameters: the engine asks for every check of every entity, and a sweep of thousands
        of entities would otherwise spend most of its time validating the same few parameter sets again."""
        # repr, not JSON: a tenth of the cost, and parameters written in another key order only miss the cache.
        key = (self.type, repr(params))
        found = _problems_cache.get(key)
        if found is None:
            found = self._params_problems(params)
            if len(_problems_cache) >= _PROBLEMS_CACHE_SIZE:
                _problems_cache.clear()
            _problems_cache[key] = found
        return list(found)

    def _params_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        validator = _validators.get(self.type) or jsonschema.Draft7Validator(dict(self.params_schema))
        problems = []
        for error in sorted(validator.iter_errors(dict(params)), key=lambda e: [str(p) for p in e.absolute_path]):
            path = ".".join(str(part) for part in error.absolute_path)
            problems.append((path, error.message))
        if problems:
            return problems
        return self.check_params(params)


_lock = threading.Lock()
_rules: dict[str, Rule] = {}
_validators: dict[str, jsonschema.protocols.Validator] = {}
_PROBLEMS_CACHE_SIZE: Final = 4096
_problems_cache: dict[tuple[str, str], list[tuple[str, str]]] = {}


def register_rule(rule: Rule, *, replace_existing: bool = False) -> Rule:
    """Make a rule known. Raises RuleError for a type already taken or an invalid parameter schema."""
    if not rule.type or "." not in rule.type:
        raise RuleError(f"rule type {rule.type!r} must be on the form family.name")
    try:
        jsonschema.Draft7Validator.check_schema(rule.params_schema)
    except jsonschema.SchemaError as exc:
        raise RuleError(f"rule {rule.type} has an invalid parameter schema: {exc.message}") from exc
    with _lock:
        if rule.type in _rules and not replace_existing:
            raise RuleError(f"rule type {rule.type} is already registered")
        _rules[rule.type] = rule
        _problems_cache.clear()
        _validators[rule.type] = jsonschema.Draft7Validator(copy.deepcopy(dict(rule.params_schema)))
    return rule


def unregister_rule(rule_type: str) -> None:
    """Forget a rule; mainly for tests."""
    with _lock:
        _rules.pop(rule_type, None)
        _problems_cache.clear()
        _validators.pop(rule_type, None)


def rule_get(rule_type: str) -> Rule:
    """The rule of that type. Raises RuleError naming the known types."""
    rule = _rules.get(rule_type)
    if rule is None:
        raise RuleError(f"unknown rule type {rule_type!r}; known types: {', '.join(sorted(_rules))}")
    return rule


def rule_find(rule_type: str) -> Rule | None:
    return _rules.get(rule_type)


def rule_list() -> list[Rule]:
    """Every registered rule, sorted by type."""
    return [_rules[key] for key in sorted(_rules)]
