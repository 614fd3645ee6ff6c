"""The catalog, on-call and template collectors, and the batch runner around them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scorecards import facts as facts_package
from scorecards.facts import catalog_view, facts_collect
from tests.catalog.factories import LocationFactory, ingest
from tests.catalog.oncall.factories import AT, payments_org
from tests.scorecards.orgs import make_repo, tag

pytestmark = pytest.mark.django_db
CHECKOUT = "component:default/checkout"


def collected(refs_keys: dict[str, set[str]], now: datetime = AT):
    view = catalog_view(refs=list(refs_keys))
    return facts_collect(view=view, needed=refs_keys, now=now)


def test_catalog_facts_are_the_entity_with_its_relations_and_its_owner_with_members():
    ingest(payments_org(), location=LocationFactory.create())

    found = collected({CHECKOUT: {"catalog.entity", "catalog.owner"}})[CHECKOUT]

    entity = found["catalog.entity"].value
    assert entity["metadata"]["name"] == "checkout"
    assert {"type": "ownedBy", "targetRef": "group:default/payments"} in entity["relations"]
    assert found["catalog.owner"].value == {
        "ref": "group:default/payments",
        "kind": "Group",
        "members": [f"user:default/{name}" for name in ("alice", "bob", "carol", "dave", "erin")],
    }
    assert found["catalog.owner"].source == "catalog"


def test_an_owner_missing_from_the_catalog_has_no_kind():
    ingest(payments_org(), location=LocationFactory.create())

    found = collected({"component:default/orphan-service": {"catalog.owner"}})["component:default/orphan-service"]

    assert found["catalog.owner"].value == {"ref": "group:default/nobody", "kind": None, "members": []}


def test_oncall_facts_come_from_the_owner_groups_policy():
    ingest(payments_org(), location=LocationFactory.create())

    found = collected({CHECKOUT: {"oncall.policy", "oncall.rotation", "oncall.coverage:7", "oncall.hours:7"}})[CHECKOUT]

    policy = found["oncall.policy"].value
    assert policy["ref"] == "escalationpolicy:default/payments"
    assert policy["levels"][0]["people"] == ["user:default/alice", "user:default/bob", "user:default/carol"]
    assert found["oncall.rotation"].value == {"size": 3, "schedules": {"schedule:default/payments-primary": 3}}
    assert found["oncall.coverage:7"].value["percent"] == 100.0
    assert sum(found["oncall.hours:7"].value.values()) == pytest.approx(7 * 24)
    assert found["oncall.policy"].source == "oncall:escalationpolicy:default/payments"


def test_oncall_facts_without_a_policy_are_none_and_a_bad_annotation_is_a_problem():
    docs = payments_org()
    docs[-1]["metadata"]["annotations"] = {"paved.dev/escalation-policy": "group:payments"}  # orphan-service
    ingest(docs, location=LocationFactory.create())

    found = collected({"component:default/orphan-service": {"oncall.policy", "oncall.rotation", "oncall.coverage:14"}})[
        "component:default/orphan-service"
    ]

    assert found["oncall.policy"].value["problem"] == (
        "paved.dev/escalation-policy is 'group:payments', not an escalation policy ref."
    )
    assert found["oncall.rotation"].value is None
    assert found["oncall.coverage:14"].error is None


@pytest.mark.parametrize("key", ["oncall.coverage:0", "oncall.coverage:abc", "oncall.hours:9999", "oncall.nope"])
def test_a_malformed_oncall_key_is_a_collection_error(key):
    ingest(payments_org(), location=LocationFactory.create())

    fact = collected({CHECKOUT: {key}})[CHECKOUT][key]

    assert fact.value is None
    assert key.partition(":")[0] in fact.error


def test_template_versions_are_the_tags_of_its_git_location(settings):
    repository = make_repo("template", {"template.yaml": TEMPLATE})
    tag(repository, "v1.0.0")
    tag(repository, "v1.1.0")
    from catalog import services
    from portal.permissions import SYSTEM

    settings.PAVED_CATALOG_TRUSTED_LOCATIONS = ["*"]
    location = services.location_create(
        type="git", target=f"{repository}#v1.1.0:template.yaml", trusted=True, actor=SYSTEM
    )
    services.location_refresh(location=location)
    ingest(payments_org(), location=LocationFactory.create())
    key = "template.versions:template:default/python-service"

    found = collected({CHECKOUT: {key, "template.versions:template:default/unknown"}})[CHECKOUT]

    assert found[key].value == {"exists": True, "versions": ["v1.0.0", "v1.1.0"]}
    assert found[key].source == f"git:{repository}#tags"
    assert found["template.versions:template:default/unknown"].value == {"exists": False, "versions": []}


def test_a_collector_that_crashes_leaves_errors_and_the_other_sources_their_facts(monkeypatch):
    ingest(payments_org(), location=LocationFactory.create())

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(facts_package.oncall, "collect", broken)

    found = collected({CHECKOUT: {"oncall.policy", "catalog.entity", "unknown.key"}})[CHECKOUT]

    assert found["oncall.policy"].error == "the oncall collector failed: RuntimeError: boom"
    assert found["catalog.entity"].error is None
    assert found["unknown.key"].error == "no collector produces the fact 'unknown.key'"


def test_an_entity_missing_from_the_catalog_has_error_facts():
    found = collected(
        {"component:default/ghost": {"catalog.entity", "oncall.policy"}}, datetime(2026, 1, 1, tzinfo=UTC)
    )

    assert found["component:default/ghost"]["catalog.entity"].error == "component:default/ghost is not in the catalog"
    assert found["component:default/ghost"]["oncall.policy"].error == "component:default/ghost is not in the catalog"


TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: python-service
spec:
  owner: group:default/platform
  type: service
  steps:
    - id: log
      action: debug:log
      input:
        message: hello
"""
