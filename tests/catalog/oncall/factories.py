"""On-call test data: Schedule/EscalationPolicy descriptors, a small organisation ingested the real way, and
portal overrides from factory_boy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import factory

from catalog.oncall.models import CalendarFeed, OnCallOverride
from tests.catalog.factories import LocationFactory, component, group, ingest, user

# A Wednesday, 12:00 UTC: alice holds the weekly turn that started Monday 2026-03-02 09:00 Berlin, dave the weekday one.
AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def schedule(
    name: str,
    *,
    owner: str = "group:payments",
    timezone: str = "Europe/Berlin",
    layers: list[dict[str, Any]] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "owner": owner,
        "timezone": timezone,
        "layers": layers
        or [{"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": ["user:alice", "user:bob"]}],
    }
    if overrides:
        spec["overrides"] = overrides
    metadata: dict[str, Any] = {"name": name}
    if title:
        metadata["title"] = title
    return {"apiVersion": "paved.dev/v1alpha1", "kind": "Schedule", "metadata": metadata, "spec": spec}


def policy(name: str, *, owner: str = "group:payments", levels: list[list[str]] | None = None) -> dict[str, Any]:
    chosen = levels or [[f"schedule:{name}-primary"]]
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "EscalationPolicy",
        "metadata": {"name": name},
        "spec": {
            "owner": owner,
            "repeat": 1,
            "levels": [{"delayMinutes": 15 * (i + 1), "targets": targets} for i, targets in enumerate(chosen)],
        },
    }


def payments_org(*, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Team payments (alice, bob, carol, dave, erin) with a weekly primary, a weekday-only secondary (gap at weekends)
    and a policy paging the primary, then the secondary plus frank; team search with its own policy; a component."""
    payments = group("payments", members=["alice", "bob", "carol", "dave", "erin"])
    payments["metadata"]["annotations"] = {"paved.dev/escalation-policy": "payments"}
    payments["spec"]["profile"] = {"displayName": "Payments"}
    search = group("search", members=["zoe"])
    search["metadata"]["annotations"] = {"paved.dev/escalation-policy": "escalationpolicy:search"}
    docs = [
        payments,
        search,
        *(user(name, member_of=["payments"]) for name in ("alice", "bob", "carol", "dave", "erin")),
        user("frank"),
        user("zoe", member_of=["search"]),
        user("mallory"),
        schedule(
            "payments-primary",
            title="Payments primary",
            layers=[
                {"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": ["alice", "bob", "carol"]}
            ],
        ),
        schedule(
            "payments-secondary",
            title="Payments secondary",
            layers=[
                {
                    "name": "weekdays",
                    "start": "2026-01-05T09:00",
                    "turn": "1w",
                    "members": ["dave", "erin"],
                    "restrictions": [{"weekly": {"from": "mon 09:00", "to": "fri 17:00"}}],
                }
            ],
        ),
        policy("payments", levels=[["schedule:payments-primary"], ["schedule:payments-secondary", "user:frank"]]),
        schedule(
            "search-primary",
            owner="group:search",
            timezone="America/New_York",
            layers=[{"name": "solo", "start": "2026-01-05T09:00", "turn": "1w", "members": ["zoe"]}],
        ),
        policy("search", owner="group:search"),
        component("checkout", owner="payments"),
        component("indexer", owner="search"),
        component("orphan-service", owner="nobody"),
    ]
    return docs + (extra or [])


def ingest_payments_org(**kwargs: Any) -> Any:
    return ingest(payments_org(**kwargs), location=LocationFactory.create())


class OnCallOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallOverride

    schedule_ref = "schedule:default/payments-primary"
    user_ref = "user:default/carol"
    start = factory.LazyFunction(lambda: AT - timedelta(hours=1))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=6))
    reason = "swap"


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarFeed

    kind = CalendarFeed.Kind.SCHEDULE
    ref = "schedule:default/payments-primary"
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    prefix = "pcal_test"
