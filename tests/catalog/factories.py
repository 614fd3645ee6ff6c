"""Catalog test data: locations from factory_boy, descriptor dicts from one DictFactory per kind, entities through
the real ingestion path.

A descriptor factory takes its usual fields by name (`ComponentDictFactory(name="billing", owner="team-a")`); any
other keyword lands in `spec` as given (`ComponentDictFactory(name="web", providesApis=["web-api"])`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import factory
import yaml
from factory.base import DictFactory

from catalog.descriptors import parse_file
from catalog.ingest import ApplyResult, apply_location_read
from catalog.locations.walk import SourceRead
from catalog.models import Location

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


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    type = Location.Type.FILE
    target = factory.Sequence(lambda n: f"/srv/catalog/test-{n}/catalog-info.yaml")
    trusted = True


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


if TYPE_CHECKING:
    # Calling a descriptor factory returns the dict it builds; the type checker is told so through the base class.
    _Document = dict[str, Any]
else:
    _Document = object


class DescriptorDictFactory(DictFactory, _Document):
    """A descriptor document as a catalog-info.yaml file holds it; undeclared keywords are `spec` fields."""

    apiVersion = "backstage.io/v1alpha1"

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = {key: kwargs.pop(key) for key in ("apiVersion", "kind", "metadata", "spec")}
        doc["spec"].update(kwargs)
        return doc

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return cls._build(model_class, *args, **kwargs)


class ComponentDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"component-{n}")
        owner = "team-a"
        system = None
        type = "service"
        lifecycle = "production"
        website = factory.Trait(type="website")
        orphan = factory.Trait(owner="nobody")

    kind = "Component"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: _present(type=o.type, lifecycle=o.lifecycle, owner=o.owner, system=o.system))


class ApiDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"api-{n}")
        owner = "team-a"
        description = None
        definition = "openapi: 3.0.0"
        # A definition with real operations, as the API page renders them.
        openapi = factory.Trait(definition=OPENAPI, description="Take payments")

    kind = "API"
    metadata = factory.LazyAttribute(lambda o: _present(name=o.name, description=o.description))
    spec = factory.LazyAttribute(
        lambda o: {"type": "openapi", "lifecycle": "production", "owner": o.owner, "definition": o.definition}
    )


class GroupDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"group-{n}")
        type = "team"
        children = factory.LazyFunction(list)
        members = None
        parent = None

    kind = "Group"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(
        lambda o: _present(type=o.type, children=o.children, members=o.members or None, parent=o.parent)
    )


class UserDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"user-{n}")
        member_of = factory.LazyFunction(list)
        email = factory.LazyAttribute(lambda o: f"{o.name}@example.com")

    kind = "User"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: {"memberOf": o.member_of or [], "profile": {"email": o.email}})


class SystemDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"system-{n}")
        owner = "team-a"
        domain = None

    kind = "System"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: _present(owner=o.owner, domain=o.domain))


class DomainDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"domain-{n}")
        owner = "team-a"

    kind = "Domain"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: {"owner": o.owner})


class ResourceDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"resource-{n}")
        owner = "team-a"
        type = "database"

    kind = "Resource"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: {"type": o.type, "owner": o.owner})


class LocationDictFactory(DescriptorDictFactory):
    class Params:
        name = factory.Sequence(lambda n: f"location-{n}")
        targets = factory.LazyFunction(list)
        type = None

    kind = "Location"
    metadata = factory.LazyAttribute(lambda o: {"name": o.name})
    spec = factory.LazyAttribute(lambda o: _present(targets=list(o.targets), type=o.type))


def write_docs(path: Path, docs: list[dict[str, Any]]) -> Path:
    """Write descriptor dicts to `path` as one YAML file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def ingest(docs: list[dict[str, Any]], *, location: Location | None = None, source: str | None = None) -> ApplyResult:
    """Ingest descriptor dicts as if `location` had read them from one file (validation included)."""
    if location is None:
        location = LocationFactory.create()
    assert location is not None
    source = source or location.key
    data = yaml.safe_dump_all(docs).encode()
    parsed = parse_file(data, file=source.split(":", 1)[1], resolver=None)
    return apply_location_read(location=location, sources=[SourceRead(source, True, parsed.entities, parsed.issues)])


def new_location(**fields: Any) -> Location:
    """A saved Location from the factory, typed as the model."""
    return cast(Location, LocationFactory(**fields))


def org_docs() -> list[dict[str, Any]]:
    """A small organisation for the catalog pages: teams, people, a system, services, an API, and a dangling ref."""
    checkout = ComponentDictFactory(
        name="checkout",
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
    web = ComponentDictFactory(
        name="web",
        owner="frontend",
        system="shop",
        lifecycle="experimental",
        website=True,
        consumesApis=["payments-api"],
    )
    web["metadata"]["tags"] = ["typescript"]
    return [
        GroupDictFactory(name="engineering", type="department", children=["payments", "frontend"]),
        GroupDictFactory(name="payments", parent="engineering"),
        GroupDictFactory(name="frontend", parent="engineering"),
        UserDictFactory(name="alice", member_of=["payments"]),
        UserDictFactory(name="bob", member_of=["payments"]),
        UserDictFactory(name="carol", member_of=["frontend"]),
        DomainDictFactory(name="commerce", owner="payments"),
        SystemDictFactory(name="shop", owner="payments", domain="commerce"),
        checkout,
        web,
        ApiDictFactory(name="payments-api", owner="payments", openapi=True),
        ComponentDictFactory(name="ledger", owner="payments", system="shop"),
    ]


def seed_org(location: Location | None = None) -> Location:
    location = location or new_location(trusted=True)
    result = ingest(org_docs(), location=location)
    assert not result.errors, result.errors
    return location


def seed_components(count: int, *, owner: str = "payments") -> Location:
    location = new_location(trusted=True)
    docs: list[dict[str, Any]] = [
        ComponentDictFactory(name=f"svc-{index:04d}", owner=owner, system="shop") for index in range(count)
    ]
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
