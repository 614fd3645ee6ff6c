"""Scorecards test data: rows from factory_boy, a Scorecard entity document, and a small organisation in the catalog
(teams payments and search, their services, and the scorecard `production-readiness` owned by payments)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from catalog.models import Location
from scorecards.models import Campaign, Exemption, Result, Score, Scorecard, Transition
from tests.catalog.factories import ComponentDictFactory, DescriptorDictFactory, LocationFactory, ingest
from tests.catalog.oncall.factories import payments_org
from tests.portal.factories import UserFactory

CARD = "scorecard:default/production-readiness"
LEVELS = ["Bronze", "Silver", "Gold"]
CHECKS = [
    {
        "id": "has-owner",
        "level": "Bronze",
        "title": "Has an owner",
        "rule": {"type": "catalog.field-present", "path": "spec.owner"},
    },
    {
        "id": "runbook",
        "level": "Silver",
        "title": "Has a runbook",
        "rule": {"type": "catalog.annotation-present", "key": "paved.dev/runbook"},
    },
    {"id": "oncall", "level": "Gold", "title": "Has on-call", "rule": {"type": "oncall.has-policy"}},
]


def definition(**changes: Any) -> dict[str, Any]:
    return {
        "owner": "group:default/payments",
        "levels": [{"name": name} for name in LEVELS],
        "checks": CHECKS,
        **changes,
    }


class ScorecardDictFactory(DescriptorDictFactory):
    class Params:
        name = "production-readiness"
        owner = "payments"

    apiVersion = "paved.dev/v1alpha1"
    kind = "Scorecard"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name, "title": "Production readiness"})
    spec = factory.LazyAttribute(lambda o: {**definition(), "owner": o.owner})


def scorecards_org(*, extra: list[dict[str, Any]] | None = None, location: Location | None = None) -> None:
    """payments_org (alice, bob… in payments; zoe in search; checkout, indexer), plus billing (payments), web
    (search) and the scorecard production-readiness owned by payments."""
    docs = payments_org(
        extra=[
            ComponentDictFactory(name="billing", owner="payments"),
            ComponentDictFactory(name="web", owner="search"),
            ScorecardDictFactory(),
            *(extra or []),
        ]
    )
    result = ingest(docs, location=location or LocationFactory.create())
    assert result.errors == [], result.errors


class ScorecardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scorecard
        django_get_or_create = ("ref",)

    ref = CARD
    title = "Production readiness"
    owner_ref = "group:default/payments"
    definition = factory.LazyFunction(definition)
    definition_hash = "0" * 64
    evaluated_at = factory.LazyFunction(timezone.now)


class ScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Score

    entity_ref = factory.Sequence(lambda n: f"component:default/service-{n}")
    scorecard_ref = CARD
    owner_ref = "group:default/payments"
    level = ""
    level_index = -1
    percent = 0.0
    evaluated_at = factory.LazyFunction(timezone.now)


class ResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Result

    entity_ref = "component:default/checkout"
    scorecard_ref = CARD
    check_id = "runbook"
    level = "Silver"
    state = Result.State.FAIL
    changed_at = factory.LazyFunction(timezone.now)
    evaluated_at = factory.LazyFunction(timezone.now)


class TransitionFactory(factory.django.DjangoModelFactory):
    """A level transition unless told otherwise (`kind="check", check_id=…`)."""

    class Meta:
        model = Transition

    entity_ref = "component:default/checkout"
    scorecard_ref = CARD
    kind = Transition.Kind.LEVEL
    check_id = ""
    from_value = ""
    to_value = "Bronze"
    level_index = factory.LazyAttribute(lambda o: LEVELS.index(o.to_value) if o.to_value in LEVELS else None)
    percent = None
    owner_ref = "group:default/payments"
    at = factory.LazyFunction(timezone.now)


def level_change(entity_ref: str, to_value: str, at: dt.datetime, owner_ref: str = "group:default/payments") -> Any:
    """A level transition of `entity_ref` to `to_value` ("" for none) at `at`."""
    index = LEVELS.index(to_value) if to_value else -1
    return TransitionFactory(
        entity_ref=entity_ref, to_value=to_value, level_index=index, at=at, owner_ref=owner_ref, percent=None
    )


class ExemptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exemption

    entity_ref = "component:default/checkout"
    scorecard_ref = CARD
    check_id = "runbook"
    reason = "The runbook is being rewritten."
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=30))
    status = Exemption.Status.PENDING
    approver_ref = "group:default/payments"
    requested_by = factory.SubFactory(UserFactory)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    title = factory.Sequence(lambda n: f"Campaign {n}")
    scorecard_ref = CARD
    target_level = "Silver"
    check_ids = factory.LazyFunction(list)
    filter = ""
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(weeks=8))
    owner_ref = "group:default/payments"
