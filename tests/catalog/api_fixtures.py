"""A small catalog shared by the catalog API tests: two teams, their members, services, a website and an API."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.models import Location
from tests.catalog.factories import LocationFactory, component, group, ingest, user


def api(name: str, *, owner: str = "team-a") -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": name},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": owner, "definition": "openapi: 3.0.0"},
    }


@pytest.fixture
def api_catalog(db) -> Location:
    location: Location = LocationFactory.create()
    website = component("Petstore-Web", owner="team-b", type="website", lifecycle="experimental")
    website["metadata"].update(
        {
            "title": "The Petstore Website",
            "tags": ["java", "frontend"],
            "annotations": {"backstage.io/techdocs-ref": "dir:."},
        }
    )
    billing = component("billing", owner="team-a", providesApis=["billing-api"])
    billing["metadata"].update({"tags": ["python"], "description": "Charges customers"})
    ingest(
        [
            group("team-a", members=[]),
            group("team-b"),
            user("alice", member_of=["team-a"]),
            user("bob", member_of=["team-b"], email="Bob.Builder@example.com"),
            billing,
            component("payments", owner="team-a", dependsOn=["component:billing"]),
            website,
            api("billing-api"),
        ],
        location=location,
    )
    return location
