"""Location errors: one shape with a machine-readable code, recorded by every refresh, dry run and failure, and what
the location page recognises by that code."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog import services
from catalog.descriptors.errors import IssueCode
from catalog.locations import LocationReadError, UrlReader, errors, parse_target
from catalog.models import Entity
from portal.permissions import SYSTEM
from tests.catalog.factories import (
    ComponentDictFactory,
    GroupDictFactory,
    LocationDictFactory,
    LocationFactory,
    ingest,
    write_docs,
)

KEYS = {"code", "file", "document", "entityRef", "path", "message"}


def by_code(recorded) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for error in recorded:
        assert set(error) == KEYS
        out.setdefault(error["code"], []).append(error)
    return out


def test_a_refresh_records_each_error_with_its_code(db, root):
    write_docs(
        root / "all.yaml",
        [LocationDictFactory(name="all", targets=["./a.yaml", "./b.yaml", "./missing.yaml", "./broken.yaml"])],
    )
    write_docs(
        root / "a.yaml",
        [
            ComponentDictFactory(name="shared"),
            ComponentDictFactory(name="twice"),
            {**ComponentDictFactory(name="bad"), "spec": {}},
        ],
    )
    write_docs(root / "b.yaml", [ComponentDictFactory(name="twice"), GroupDictFactory(name="team-a")])
    (root / "broken.yaml").write_text("kind: [this is not yaml\n")
    other = LocationFactory(type="file", target="/srv/other.yaml")
    ingest([ComponentDictFactory(name="shared")], location=other)
    location = LocationFactory(type="file", target=str(root / "all.yaml"), trusted=False)

    result = services.location_refresh(location=location)

    recorded = by_code(result.applied.errors)
    assert set(recorded) == {"conflict", "duplicate", "validation", "untrusted-kind", "read", "parse"}
    assert recorded["conflict"][0]["entityRef"] == "component:default/shared"
    assert recorded["conflict"][0]["message"].startswith("Conflict: component:default/shared is already managed by")
    assert recorded["duplicate"][0]["file"] == f"file:{root}/b.yaml"
    assert recorded["untrusted-kind"][0]["path"] == "kind"
    assert recorded["read"][0]["file"] == f"file:{root}/all.yaml"
    assert recorded["parse"][0]["file"] == f"{root}/broken.yaml"
    location.refresh_from_db()
    assert location.errors == result.applied.errors


def test_an_entity_keeps_the_codes_of_the_errors_that_hold_back_its_new_version(db, root):
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="svc")])
    location = LocationFactory(type="file", target=str(path))
    services.location_refresh(location=location)
    write_docs(path, [{**ComponentDictFactory(name="svc"), "spec": {"type": "service"}}])

    services.location_refresh(location=location)

    held_back = Entity.objects.get(name="svc").errors
    assert {(e["code"], e["entityRef"]) for e in held_back} == {(IssueCode.VALIDATION, "component:default/svc")}
    assert {e["path"] for e in held_back} == {"spec.lifecycle", "spec.owner"}


def test_a_dry_run_answers_errors_with_their_codes(db, root, auth_client):
    write_docs(
        root / "a.yaml",
        [
            ComponentDictFactory(name="a"),
            GroupDictFactory(name="team-a"),
            {**ComponentDictFactory(name="bad"), "spec": {}},
        ],
    )

    response = auth_client.post(
        reverse("catalog_api:locations") + "?dryRun=true",
        {"type": "file", "target": str(root / "a.yaml")},
        content_type="application/json",
    )

    assert response.status_code == 201
    recorded = by_code(response.json()["errors"])
    assert set(recorded) == {"untrusted-kind", "validation"}
    assert recorded["untrusted-kind"][0]["document"] == 1


@pytest.mark.parametrize(
    ("read", "code"),
    [
        (lambda: UrlReader().read("https://not-allowed.example.org/a.yaml"), IssueCode.FETCH),
        (lambda: UrlReader().normalise("ftp://example.org/a.yaml"), IssueCode.FETCH),
        (lambda: parse_target("https://not-allowed.example.org/repo.git"), IssueCode.FETCH),
        (lambda: parse_target("relative/repo"), IssueCode.READ),
    ],
)
def test_readers_say_what_kind_of_failure_they_raise(settings, read, code):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["catalog.example.com"]

    with pytest.raises(LocationReadError) as failure:
        read()

    assert failure.value.code == code


def test_read_issue_names_the_target_once_when_it_is_the_file_itself():
    issue = errors.read_issue(file="file:/srv/a.yaml", target="/srv/a.yaml", reason="/srv/a.yaml: file not found")
    nested = errors.read_issue(file="file:/srv/all.yaml", target="/srv/b.yaml", reason="/srv/b.yaml: file not found")

    assert issue.message == "file:/srv/a.yaml: file not found"
    assert nested.message == "file:/srv/all.yaml: /srv/b.yaml: file not found"
    assert issue.code == nested.code == IssueCode.READ


def test_every_constructor_builds_the_one_shape():
    built = [
        errors.conflict(ref="component:default/a", file="file:/a.yaml", other="file:/b.yaml"),
        errors.declared_twice(ref="component:default/a", file="file:/b.yaml", first="file:/a.yaml"),
        errors.untrusted_kind(ref="group:default/g", kind="Group", file="file:/a.yaml", document=2),
        errors.refresh_failed(location_key="file:/a.yaml", error="database went away"),
    ]

    assert [set(error) for error in built] == [KEYS] * 4
    assert [error["code"] for error in built] == ["conflict", "duplicate", "untrusted-kind", "refresh-failed"]


def test_stored_errors_without_a_code_read_as_having_none():
    legacy = {"file": "f", "document": None, "entityRef": None, "path": "", "message": "Conflict: written long ago"}

    assert errors.error_code(legacy) == ""
    assert errors.with_code([legacy], IssueCode.CONFLICT) == []


def test_the_location_page_flags_conflicts_by_their_code_not_their_words(db, auth_client):
    location = LocationFactory()
    location.errors = [
        errors.conflict(ref="component:default/a", file="file:/a.yaml", other="file:/b.yaml"),
        {**errors.refresh_failed(location_key="file:/a.yaml", error="x"), "message": "Conflict-free words"},
        # Recorded before errors had codes: shown, not counted.
        {"file": "f", "document": None, "entityRef": None, "path": "", "message": "Conflict: written long ago"},
    ]
    location.save(update_fields=["errors"])

    page = auth_client.get(reverse("catalog:location_detail", args=[location.pk])).content.decode()

    assert "3 errors in the last refresh" in page
    assert "1 conflict<" in page
    assert 'data-code="conflict"' in page
    assert 'data-code="refresh-failed"' in page
    assert "Conflict: written long ago" in page


def test_a_failed_refresh_is_recorded_with_its_code(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))

    services.location_refresh_fail(location=location, error="database went away")

    location.refresh_from_db()
    assert [(e["code"], e["file"]) for e in location.errors] == [("refresh-failed", location.key)]


def test_a_dry_run_and_a_refresh_refuse_an_untrusted_kind_in_the_same_words(db, root):
    path = write_docs(root / "org.yaml", [GroupDictFactory(name="team-a")])

    dry = services.location_create(type="file", target=str(path), actor=SYSTEM, dry_run=True)
    refreshed = services.location_refresh(location=LocationFactory(type="file", target=str(path), trusted=False))

    (dry_error,) = dry.errors
    (refresh_error,) = refreshed.applied.errors
    assert dry_error["code"] == refresh_error["code"] == IssueCode.UNTRUSTED_KIND
    assert dry_error["message"].lower() == refresh_error["message"].lower()
