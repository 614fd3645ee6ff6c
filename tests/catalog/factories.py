"""Catalog test data: locations from factory_boy, entities through the real ingestion path."""

from __future__ import annotations

from typing import Any

import factory
import yaml

from catalog.descriptors import parse_file
from catalog.ingest import ApplyResult, apply_location_read
from catalog.locations.walk import SourceRead
from catalog.models import Location


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    type = Location.Type.FILE
    target = factory.Sequence(lambda n: f"/srv/catalog/test-{n}/catalog-info.yaml")
    trusted = True


def ingest(docs: list[dict[str, Any]], *, location: Location | None = None, source: str | None = None) -> ApplyResult:
    """Ingest descriptor dicts as if `location` had read them from one file (validation included)."""
    if location is None:
        location = LocationFactory.create()
    assert location is not None
    source = source or location.key
    data = yaml.safe_dump_all(docs).encode()
    parsed = parse_file(data, file=source.split(":", 1)[1], resolver=None)
    return apply_location_read(location=location, sources=[SourceRead(source, True, parsed.entities, parsed.issues)])


def component(name: str, *, owner: str = "team-a", system: str | None = None, **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner, **spec},
    }
    if system:
        doc["spec"]["system"] = system
    return doc


def group(name: str, *, members: list[str] | None = None, parent: str | None = None, **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
        "spec": {"type": "team", "children": [], **({"members": members} if members else {}), **spec},
    }
    if parent:
        doc["spec"]["parent"] = parent
    return doc


def user(name: str, *, member_of: list[str] | None = None, email: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": name},
        "spec": {"memberOf": member_of or [], "profile": {"email": email or f"{name}@example.com"}},
    }
