"""Trust: which locations are trusted, and the one rule for the kinds only they may declare."""

from __future__ import annotations

import pytest

from catalog.descriptors.errors import IssueCode
from catalog.descriptors.kinds import registered_kinds, requires_trusted_location
from catalog.locations.trust import location_is_trusted, untrusted_kind
from catalog.models import Location
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory


def test_the_kinds_that_shape_the_organisation_or_its_policy_need_a_trusted_location():
    assert {spec.kind for spec in registered_kinds() if spec.trusted_only} == {
        "Group",
        "User",
        "Template",
        "Schedule",
        "EscalationPolicy",
        "Scorecard",
    }


@pytest.mark.parametrize(
    ("kind", "api_version", "expected"),
    [
        ("Group", "backstage.io/v1alpha1", True),
        ("Group", "example.com/v9", True),  # by name: another apiVersion of a kind is not a way around the rule
        ("Template", "scaffolder.backstage.io/v1beta3", True),
        ("Schedule", "paved.dev/v1alpha1", True),
        ("Component", "backstage.io/v1alpha1", False),
        ("Location", "backstage.io/v1alpha1", False),
        ("Unknown", "example.com/v1", False),
    ],
)
def test_requires_trusted_location(kind, api_version, expected):
    assert requires_trusted_location(kind, api_version) is expected


def test_a_location_is_trusted_when_marked_or_matched_by_a_configured_glob(settings):
    settings.PAVED_CATALOG_TRUSTED_LOCATIONS = ["/srv/org/*"]

    assert location_is_trusted(location=Location(type="file", target="/srv/elsewhere/a.yaml", trusted=True))
    assert location_is_trusted(location=Location(type="file", target="/srv/org/all.yaml"))
    assert not location_is_trusted(location=Location(type="file", target="/srv/teams/all.yaml"))


def test_untrusted_kind_refuses_org_data_from_an_untrusted_location_only():
    team = GroupDictFactory(name="team-a")

    refused = untrusted_kind(entity=team, ref="group:default/team-a", file="file:/a.yaml", trusted=False, document=3)

    assert refused is not None
    assert (refused["code"], refused["path"], refused["document"]) == (IssueCode.UNTRUSTED_KIND, "kind", 3)
    assert "kind Group may only come from a trusted location" in refused["message"]
    assert untrusted_kind(entity=team, ref="group:default/team-a", file="file:/a.yaml", trusted=True) is None
    assert (
        untrusted_kind(
            entity=ComponentDictFactory(name="a"), ref="component:default/a", file="file:/a.yaml", trusted=False
        )
        is None
    )
