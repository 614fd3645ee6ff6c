"""Entity checks other apps register for a kind: run by every refresh and every dry run of a registration; an
entity they refuse is treated as invalid (kept at its last good version, its errors recorded and shown)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.urls import reverse

from catalog import services
from catalog.extensions import (
    EntityProblem,
    entity_check_errors,
    entity_checks,
    has_entity_checks,
    register_entity_check,
    unregister_entity_check,
)
from catalog.locations.errors import IssueCode
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from tests.catalog.factories import ComponentDictFactory, write_docs
from tests.portal.factories import AdminFactory


class Refuser:
    """A check refusing the components named in `refuse`, remembering what it was called with."""

    def __init__(self) -> None:
        self.refuse: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, entity: Mapping[str, Any], source: str) -> list[EntityProblem]:
        name = entity["metadata"]["name"]
        self.calls.append((name, source))
        if name in self.refuse:
            return [EntityProblem("spec.lifecycle", f"the lifecycle of {name} is not allowed here")]
        return []


@pytest.fixture
def refuser() -> Iterator[Refuser]:
    check = Refuser()
    register_entity_check("Component", check)
    yield check
    unregister_entity_check("Component", check)


@pytest.fixture
def catalog_file(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return write_docs(
        tmp_path / "catalog-info.yaml",
        [ComponentDictFactory(name="billing", lifecycle="production"), ComponentDictFactory(name="ledger")],
    )


def register(path, capture) -> Location:
    with capture(execute=True):
        location = services.location_create(type="file", target=str(path), actor=SYSTEM)
    location.refresh_from_db()
    return location


def names() -> set[str]:
    return set(Entity.objects.filter(kind="Component").values_list("name", flat=True))


def test_a_refused_entity_is_not_created_and_its_error_is_recorded(
    db, refuser, catalog_file, django_capture_on_commit_callbacks
):
    refuser.refuse = {"billing"}

    location = register(catalog_file, django_capture_on_commit_callbacks)

    assert names() == {"ledger"}
    [error] = location.errors
    assert error["code"] == IssueCode.VALIDATION
    assert error["entityRef"] == "component:default/billing"
    assert error["path"] == "spec.lifecycle"
    assert error["file"] == str(catalog_file)
    assert error["document"] == 0
    assert error["message"] == (
        f"{catalog_file}, document 0 (component:default/billing): spec.lifecycle: "
        "the lifecycle of billing is not allowed here"
    )


def test_the_check_is_given_the_entity_and_its_source(db, refuser, catalog_file, django_capture_on_commit_callbacks):
    register(catalog_file, django_capture_on_commit_callbacks)

    assert sorted(refuser.calls) == [("billing", f"file:{catalog_file}"), ("ledger", f"file:{catalog_file}")]


def test_a_refused_entity_keeps_its_last_good_version_with_the_error_attached(
    db, refuser, catalog_file, django_capture_on_commit_callbacks
):
    location = register(catalog_file, django_capture_on_commit_callbacks)
    write_docs(
        catalog_file,
        [ComponentDictFactory(name="billing", lifecycle="experimental"), ComponentDictFactory(name="ledger")],
    )
    refuser.refuse = {"billing"}

    services.location_refresh(location=location)

    billing = Entity.objects.get(name="billing")
    assert billing.data["spec"]["lifecycle"] == "production"
    assert billing.orphan is False
    assert [e["message"].rsplit(": ", 1)[1] for e in billing.errors] == ["the lifecycle of billing is not allowed here"]
    location.refresh_from_db()
    assert [e["path"] for e in location.errors] == ["spec.lifecycle"]
    assert location.state == Location.State.OK

    refuser.refuse = set()
    services.location_refresh(location=location)
    billing.refresh_from_db()
    assert billing.data["spec"]["lifecycle"] == "experimental"
    assert billing.errors == []


def test_an_unchanged_file_is_checked_again_on_every_refresh(
    db, refuser, catalog_file, django_capture_on_commit_callbacks
):
    # What a check reads (a template's skeleton) may change while the descriptor's bytes do not.
    location = register(catalog_file, django_capture_on_commit_callbacks)
    refuser.refuse = {"ledger"}

    services.location_refresh(location=location)

    location.refresh_from_db()
    assert [e["entityRef"] for e in location.errors] == ["component:default/ledger"]
    assert Entity.objects.get(name="ledger").errors


def test_a_dry_run_leaves_the_refused_entity_out_and_answers_with_its_error(db, refuser, catalog_file):
    refuser.refuse = {"ledger"}

    preview = services.location_create(type="file", target=str(catalog_file), actor=SYSTEM, dry_run=True)

    assert [e["metadata"]["name"] for e in preview.entities if e["kind"] == "Component"] == ["billing"]
    [error] = preview.errors
    assert error["path"] == "spec.lifecycle"
    assert "the lifecycle of ledger is not allowed here" in error["message"]
    assert not Location.objects.exists()


def test_the_api_dry_run_answers_with_the_check_error(auth_client, refuser, catalog_file):
    refuser.refuse = {"ledger"}

    response = auth_client.post(
        "/api/catalog/locations?dryRun=true",
        {"type": "file", "target": str(catalog_file)},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    assert {e["metadata"]["name"] for e in body["entities"]} >= {"billing"}
    assert "ledger" not in {e["metadata"]["name"] for e in body["entities"]}
    assert [e["entityRef"] for e in body["errors"]] == ["component:default/ledger"]
    assert "the lifecycle of ledger is not allowed here" in body["errors"][0]["message"]


def test_the_preview_page_shows_the_check_error(client_for, refuser, catalog_file):
    AdminFactory(username="root")
    refuser.refuse = {"ledger"}

    response = client_for("root", htmx=True).post(
        reverse("catalog:location_preview"), {"type": "file", "target": str(catalog_file)}
    )

    assert response.status_code == 200
    assert "the lifecycle of ledger is not allowed here" in response.content.decode()


def test_the_location_page_shows_the_check_error(client_for, refuser, catalog_file, django_capture_on_commit_callbacks):
    refuser.refuse = {"ledger"}
    location = register(catalog_file, django_capture_on_commit_callbacks)

    response = client_for("alice").get(reverse("catalog:location_detail", args=[location.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="location-errors"' in page
    assert "the lifecycle of ledger is not allowed here" in page


def test_a_check_that_raises_refuses_the_entity_and_says_why(db, catalog_file, django_capture_on_commit_callbacks):
    def broken(entity: Mapping[str, Any], source: str) -> list[EntityProblem]:
        raise RuntimeError("disk on fire")

    register_entity_check("Component", broken)
    try:
        location = register(catalog_file, django_capture_on_commit_callbacks)
    finally:
        unregister_entity_check("Component", broken)

    assert names() == set()
    assert len(location.errors) == 2
    assert all(e["message"].endswith("could not be checked (RuntimeError: disk on fire)") for e in location.errors)


def test_untrusted_kinds_are_refused_before_any_check_runs(db, refuser, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    calls: list[str] = []

    def group_check(entity: Mapping[str, Any], source: str) -> list[EntityProblem]:
        calls.append(source)
        return []

    path = write_docs(
        tmp_path / "org.yaml",
        [
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Group",
                "metadata": {"name": "t"},
                "spec": {"type": "team", "children": []},
            }
        ],
    )
    register_entity_check("Group", group_check)
    try:
        preview = services.location_create(type="file", target=str(path), actor=SYSTEM, dry_run=True)
    finally:
        unregister_entity_check("Group", group_check)

    assert calls == []
    assert [e["code"] for e in preview.errors] == [IssueCode.UNTRUSTED_KIND]


def test_registering_is_per_kind_case_insensitive_and_idempotent():
    def check(entity: Mapping[str, Any], source: str) -> list[EntityProblem]:
        return [EntityProblem("", "no")]

    assert not has_entity_checks("Widget")
    register_entity_check("Widget", check)
    register_entity_check("widget", check)
    try:
        assert entity_checks("WIDGET") == [check]
        assert has_entity_checks("Widget")
        assert not has_entity_checks(None)
        errors = entity_check_errors(
            entity={"kind": "Widget"}, ref="widget:default/w", source="git:/srv/r.git#main:w.yaml", document=None
        )
        assert [(e["file"], e["path"], e["message"]) for e in errors] == [
            ("/srv/r.git#main:w.yaml", "", "/srv/r.git#main:w.yaml (widget:default/w): no")
        ]
    finally:
        unregister_entity_check("Widget", check)
    unregister_entity_check("Widget", check)  # a second time is harmless
    assert entity_checks("Widget") == []


def test_entities_of_other_kinds_are_not_checked(db, refuser, catalog_file):
    write_docs(
        catalog_file, [ComponentDictFactory(name="billing"), {**ComponentDictFactory(name="x"), "kind": "System"}]
    )

    preview = services.location_create(type="file", target=str(catalog_file), actor=SYSTEM, dry_run=True)

    assert [name for name, _ in refuser.calls] == ["billing"]
    assert {e["kind"] for e in preview.entities} == {"Location", "Component", "System"}
