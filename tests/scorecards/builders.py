"""Plain builders for the scorecard pure-core tests: entities, facts, checks and one-check runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scorecards.engine.evaluate import evaluate_check
from scorecards.engine.model import CheckDef, Fact

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def component(name="payments-api", **metadata_and_spec):
    spec = metadata_and_spec.pop("spec", {"type": "service", "lifecycle": "production", "owner": "group:payments"})
    relations = metadata_and_spec.pop("relations", [{"type": "ownedBy", "targetRef": "group:default/payments"}])
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, **metadata_and_spec},
        "spec": spec,
        "relations": relations,
    }


def fact(key, value, *, age=timedelta(minutes=5), source="test", error=None):
    return Fact(key=key, value=value, source=source, collected_at=NOW - age, error=error)


def facts(*items):
    return {item.key: item for item in items}


def entity_facts(entity, *others):
    return facts(fact("catalog.entity", entity, source="catalog"), *others)


def check(rule_type, level="Bronze", check_id=None, weight=1.0, filter=(), **params):
    return CheckDef(
        id=check_id or rule_type,
        level=level,
        title=f"title of {rule_type}",
        rule_type=rule_type,
        params=params,
        remediation="do the thing",
        remediation_url="https://docs.example.com/thing",
        weight=weight,
        filter=tuple(filter),
    )


def run(rule_type, entity, all_facts, *, max_age=None, **params):
    """One check of `rule_type` with `params` judged for `entity`."""
    return evaluate_check(check(rule_type, **params), entity, all_facts, now=NOW, max_age=max_age)
