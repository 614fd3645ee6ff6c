"""A small organisation for the catalog page tests: teams, people, a system, services, an API, and a dangling ref."""

from __future__ import annotations

from typing import Any, cast

from catalog.models import Location
from tests.catalog.factories import LocationFactory, component, group, ingest, user

OPENAPI = """openapi: 3.0.0
info: {title: Payments, version: 1.0.0}
paths:
  /payments:
    get: {summary: list}
    post: {summary: create}
  /payments/{id}:
    get: {summary: one}
    delete: {summary: remove}
"""


def api(name: str, *, owner: str = "payments", definition: str = OPENAPI, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": name, "description": "Take payments"},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": owner, "definition": definition, **spec},
    }


def system(name: str, *, owner: str, domain: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"owner": owner}
    if domain:
        spec["domain"] = domain
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": {"name": name}, "spec": spec}


def domain(name: str, *, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Domain",
        "metadata": {"name": name},
        "spec": {"owner": owner},
    }


def org_docs() -> list[dict[str, Any]]:
    checkout = component(
        "checkout",
        owner="payments",
        system="shop",
        providesApis=["payments-api"],
        dependsOn=["resource:orders-db", "component:ledger"],
    )
    checkout["metadata"].update(
        {
            "title": "Checkout service",
            "description": "Takes the money.\nSecond line.",
            "tags": ["python", "tier-1"],
            "links": [{"url": "https://runbooks.example.com/checkout", "title": "Runbook"}],
            "annotations": {"backstage.io/view-url": "https://git.example.com/shop/checkout"},
        }
    )
    web = component("web", owner="frontend", system="shop", lifecycle="experimental", consumesApis=["payments-api"])
    web["spec"]["type"] = "website"
    web["metadata"]["tags"] = ["typescript"]
    return [
        group("engineering", type="department", children=["payments", "frontend"]),
        group("payments", parent="engineering"),
        group("frontend", parent="engineering"),
        user("alice", member_of=["payments"]),
        user("bob", member_of=["payments"]),
        user("carol", member_of=["frontend"]),
        domain("commerce", owner="payments"),
        system("shop", owner="payments", domain="commerce"),
        checkout,
        web,
        api("payments-api"),
        component("ledger", owner="payments", system="shop"),
    ]


def new_location(**fields: Any) -> Location:
    """A saved Location from the factory, typed as the model."""
    return cast(Location, LocationFactory(**fields))


def seed_org(location: Location | None = None) -> Location:
    location = location or new_location(trusted=True)
    result = ingest(org_docs(), location=location)
    assert not result.errors, result.errors
    return location


def seed_components(count: int, *, owner: str = "payments") -> Location:
    location = new_location(trusted=True)
    docs = [component(f"svc-{index:04d}", owner=owner, system="shop") for index in range(count)]
    for index, doc in enumerate(docs):
        doc["metadata"]["tags"] = [f"tag-{index % 5}"]
    result = ingest(docs, location=location)
    assert not result.errors, result.errors
    return location


def force_metadata(name: str, **metadata: Any) -> None:
    """Write metadata straight into a stored entity, bypassing validation: pages must stay safe even with data
    that ingestion would refuse (older rows, a future validator bug)."""
    from catalog.indexing import entity_columns
    from catalog.models import Entity

    entity = Entity.objects.get(name=name)
    entity.data["metadata"].update(metadata)
    columns = entity_columns(entity.data)
    Entity.objects.filter(pk=entity.pk).update(
        data=entity.data,
        title=columns["title"],
        description=columns["description"],
        tags=columns["tags"],
        search_text=columns["search_text"],
    )
