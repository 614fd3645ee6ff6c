"""Fixtures shared by the catalog tests."""

from __future__ import annotations

import pytest

from catalog.models import Location
from tests.catalog.factories import (
    ApiDictFactory,
    ComponentDictFactory,
    GroupDictFactory,
    LocationFactory,
    UserDictFactory,
    ingest,
)


@pytest.fixture
def api_catalog(db) -> Location:
    """A small catalog for the catalog API tests: two teams, their members, services, a website and an API."""
    location: Location = LocationFactory.create()
    website = ComponentDictFactory(name="Petstore-Web", owner="team-b", website=True, lifecycle="experimental")
    website["metadata"].update(
        {
            "title": "The Petstore Website",
            "tags": ["java", "frontend"],
            "annotations": {"backstage.io/techdocs-ref": "dir:."},
        }
    )
    billing = ComponentDictFactory(name="billing", owner="team-a", providesApis=["billing-api"])
    billing["metadata"].update({"tags": ["python"], "description": "Charges customers"})
    ingest(
        [
            GroupDictFactory(name="team-a", members=[]),
            GroupDictFactory(name="team-b"),
            UserDictFactory(name="alice", member_of=["team-a"]),
            UserDictFactory(name="bob", member_of=["team-b"], email="Bob.Builder@example.com"),
            billing,
            ComponentDictFactory(name="payments", owner="team-a", dependsOn=["component:billing"]),
            website,
            ApiDictFactory(name="billing-api"),
        ],
        location=location,
    )
    return location
