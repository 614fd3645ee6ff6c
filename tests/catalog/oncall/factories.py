"""On-call test data: Schedule and EscalationPolicy descriptor dicts, a small organisation ingested the real way, and
portal overrides from factory_boy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import factory

from catalog.oncall.models import CalendarFeed, OnCallOverride
from tests.catalog.factories import (
    ComponentDictFactory,
    DescriptorDictFactory,
    GroupDictFactory,
    LocationFactory,
    UserDictFactory,
    ingest,
)

# A Wednesday, 12:00 UTC: alice holds the weekly turn that started Monday 2026-03-02 09:00 Berlin, dave the weekday one.
AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


class ScheduleDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"schedule-{n}")
        owner = "group:payments"
        timezone = "Europe/Berlin"
        layers = factory.LazyFunction(
            lambda: [
                {"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": ["user:alice", "user:bob"]}
            ]
        )
        overrides = None
        title = None

    apiVersion = "paved.dev/v1alpha1"
    kind = "Schedule"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name, **({"title": o.title} if o.title else {})})
    spec = factory.LazyAttribute(
        lambda o: {
            "owner": o.owner,
            "timezone": o.timezone,
            "layers": o.layers,
            **({"overrides": o.overrides} if o.overrides else {}),
        }
    )


class EscalationPolicyDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"policy-{n}")
        owner = "group:payments"
        levels = factory.LazyAttribute(lambda o: [[f"schedule:{o.name}-primary"]])

    apiVersion = "paved.dev/v1alpha1"
    kind = "EscalationPolicy"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(
        lambda o: {
            "owner": o.owner,
            "repeat": 1,
            "levels": [{"delayMinutes": 15 * (i + 1), "targets": targets} for i, targets in enumerate(o.levels)],
        }
    )


def payments_org(*, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Team payments (alice, bob, carol, dave, erin) with a weekly primary, a weekday-only secondary (gap at weekends)
    and a policy paging the primary, then the secondary plus frank; team search with its own policy; a component."""
    payments = GroupDictFactory(name="payments", members=["alice", "bob", "carol", "dave", "erin"])
    payments["metadata"]["annotations"] = {"paved.dev/escalation-policy": "payments"}
    payments["spec"]["profile"] = {"displayName": "Payments"}
    search = GroupDictFactory(name="search", members=["zoe"])
    search["metadata"]["annotations"] = {"paved.dev/escalation-policy": "escalationpolicy:search"}
    docs = [
        payments,
        search,
        *(UserDictFactory(name=name, member_of=["payments"]) for name in ("alice", "bob", "carol", "dave", "erin")),
        UserDictFactory(name="frank"),
        UserDictFactory(name="zoe", member_of=["search"]),
        UserDictFactory(name="mallory"),
        ScheduleDictFactory(
            name="payments-primary",
            title="Payments primary",
            layers=[
                {"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": ["alice", "bob", "carol"]}
            ],
        ),
        ScheduleDictFactory(
            name="payments-secondary",
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
        EscalationPolicyDictFactory(
            name="payments", levels=[["schedule:payments-primary"], ["schedule:payments-secondary", "user:frank"]]
        ),
        ScheduleDictFactory(
            name="search-primary",
            owner="group:search",
            timezone="America/New_York",
            layers=[{"name": "solo", "start": "2026-01-05T09:00", "turn": "1w", "members": ["zoe"]}],
        ),
        EscalationPolicyDictFactory(name="search", owner="group:search"),
        ComponentDictFactory(name="checkout", owner="payments"),
        ComponentDictFactory(name="indexer", owner="search"),
        ComponentDictFactory(name="orphan-service", owner="nobody"),
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
