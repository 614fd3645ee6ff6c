"""Scaffolder test data: Template entity data, runs, steps, approvals and events."""

from __future__ import annotations

from typing import Any

import factory

from scaffolder.models import Approval, Event, Run, Step
from tests.portal.factories import UserFactory


def template_data(
    *,
    name: str = "service",
    steps: list[dict[str, Any]] | None = None,
    guardrails: list[dict[str, Any]] | None = None,
    output: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of a Template entity as the catalog stores it."""
    spec: dict[str, Any] = {
        "owner": "group:default/platform",
        "type": "service",
        "parameters": [],
        "steps": steps if steps is not None else [{"id": "a", "name": "A", "action": "test:echo", "input": {}}],
    }
    if guardrails is not None:
        spec["guardrails"] = guardrails
    if output is not None:
        spec["output"] = output
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": name, "namespace": "default", "annotations": {}},
        "spec": spec,
    }


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    template_ref = "template:default/service"
    template_version = "v1"
    spec = factory.LazyFunction(lambda: {"steps": [], "output": {}})
    parameters = factory.LazyFunction(dict)
    status = Run.Status.OPEN
    created_by = factory.SubFactory(UserFactory)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    run = factory.SubFactory(RunFactory)
    position = factory.Sequence(lambda n: n)
    step_id = factory.LazyAttribute(lambda s: f"step-{s.position}")
    name = factory.LazyAttribute(lambda s: s.step_id)
    action = "test:echo"
    definition = factory.LazyAttribute(lambda s: {"id": s.step_id, "action": s.action, "input": {}})


class ApprovalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Approval

    run = factory.SubFactory(RunFactory, status=Run.Status.AWAITING_APPROVAL)
    position = factory.Sequence(lambda n: n)
    approver_ref = "group:default/payments"
    reason = "needs a look"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    run = factory.SubFactory(RunFactory)
    type = Event.Type.LOG
    body = "hello"
