"""On-call facts (`oncall.policy`, `oncall.coverage:<days>`, `oncall.rotation`, `oncall.hours:<days>`), from the
on-call engine: policies and schedules are loaded once per batch (`catalog.oncall.loading`, portal overrides
included) and each value is computed once per policy by `scorecards.checks.oncall_facts`.

An entity's policy is found as the on-call pages find it (`catalog.oncall.loading.policy_lookup`): the
`paved.dev/escalation-policy` annotation on the entity, else on its owner Group.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from catalog.oncall import loading
from catalog.oncall.engine import EscalationPolicy, Schedule, normalize_ref
from scorecards.checks import oncall_facts
from scorecards.engine.model import Fact
from scorecards.facts.view import CatalogView

PREFIX: Final = "oncall."
POLICY: Final = "oncall.policy"
ROTATION: Final = "oncall.rotation"
COVERAGE: Final = "oncall.coverage:"
HOURS: Final = "oncall.hours:"
MAX_DAYS: Final = 366


def _annotation(data: Mapping[str, Any]) -> str:
    metadata = data.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(loading.POLICY_ANNOTATION) if isinstance(annotations, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def policy_of(view: CatalogView, ref: str) -> tuple[str | None, str | None]:
    """(policy ref, problem): the entity's annotation, else its owner Group's; (None, None) when neither has one."""
    row = view.entities.get(ref)
    if row is None:
        return None, None
    where, value, namespace = "", _annotation(row.data), row.namespace
    if not value and row.kind.lower() != "group" and row.owner_ref.startswith("group:"):
        owner = view.entities.get(row.owner_ref)
        if owner is not None:
            where, value, namespace = f" on {owner.ref}", _annotation(owner.data), owner.namespace
    if not value:
        return None, None
    try:
        policy_ref = normalize_ref(value, default_kind="escalationpolicy", default_namespace=namespace)
    except ValueError:
        policy_ref = ""
    if not policy_ref.startswith("escalationpolicy:"):
        return None, f"{loading.POLICY_ANNOTATION}{where} is '{value}', not an escalation policy ref."
    return policy_ref, None


def _days(key: str, prefix: str) -> int:
    text = key[len(prefix) :]
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise ValueError(f"{key}: the number of days must be a whole number from 1 to {MAX_DAYS}")
    return int(text)


class _Policies:
    """Every policy the batch needs and its schedules, loaded once; values computed once per policy and key."""

    def __init__(self, refs: set[str], now: datetime) -> None:
        self.now = now
        self.loaded = loading.policies_by_refs(refs=refs)
        schedule_refs = {s for p in self.loaded.values() if p.policy is not None for s in p.policy.schedule_refs()}
        schedules = loading.schedules_by_refs(refs=schedule_refs, overrides_since=now)
        self.schedules: dict[str, Schedule] = {r: s.schedule for r, s in schedules.items() if s.schedule is not None}
        self.values: dict[tuple[str, str], Any] = {}

    def policy(self, ref: str) -> tuple[EscalationPolicy | None, str | None]:
        loaded = self.loaded.get(ref)
        if loaded is None:
            return None, f"{ref} is not in the catalog."
        return loaded.policy, (loaded.problem or None) if loaded.policy is None else None

    def value(self, ref: str, key: str) -> Any:
        cached = (ref, key)
        if cached not in self.values:
            policy, problem = self.policy(ref)
            if key == POLICY:
                value: Any = oncall_facts.policy_value(policy, self.schedules, problem=problem)
                if value is not None and value.get("ref") is None:
                    value = {**value, "ref": ref}
            elif key == ROTATION:
                value = oncall_facts.rotation_value(policy, self.schedules)
            elif key.startswith(COVERAGE):
                value = oncall_facts.coverage_value(policy, self.schedules, now=self.now, days=_days(key, COVERAGE))
            elif key.startswith(HOURS):
                value = oncall_facts.hours_value(policy, self.schedules, now=self.now, days=_days(key, HOURS))
            else:
                raise ValueError(f"no on-call fact is called {key!r}")
            self.values[cached] = value
        return self.values[cached]


def collect(view: CatalogView, wanted: Mapping[str, set[str]], now: datetime) -> dict[str, list[Fact]]:
    found = {ref: policy_of(view, ref) for ref in wanted}
    policies = _Policies({ref for ref, _ in found.values() if ref}, now)
    out: dict[str, list[Fact]] = {}
    for ref, keys in wanted.items():
        policy_ref, problem = found[ref]
        facts = out.setdefault(ref, [])
        source = f"oncall:{policy_ref}" if policy_ref else "oncall"
        for key in sorted(keys):
            if ref not in view.entities:
                facts.append(Fact(key, None, source, now, f"{ref} is not in the catalog"))
                continue
            try:
                if policy_ref:
                    value = policies.value(policy_ref, key)
                elif key == POLICY and problem:
                    value = {"ref": None, "problem": problem, "levels": []}
                else:
                    if key.startswith(COVERAGE):
                        _days(key, COVERAGE)
                    elif key.startswith(HOURS):
                        _days(key, HOURS)
                    elif key not in (POLICY, ROTATION):
                        raise ValueError(f"no on-call fact is called {key!r}")
                    value = None
            except ValueError as error:
                facts.append(Fact(key, None, source, now, str(error)))
                continue
            except Exception as error:  # a schedule the engine cannot render must not stop the other entities
                message = f"the on-call engine failed: {type(error).__name__}: {error}"
                facts.append(Fact(key, None, source, now, message))
                continue
            facts.append(Fact(key, value, source, now))
    return out
