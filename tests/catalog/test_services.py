"""Location services: registering, refreshing under the never-lose-data rules, deleting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog import services
from catalog.models import Entity, Location
from portal.exceptions import ConflictError, ForbiddenError
from portal.models import AuditEvent
from portal.permissions import SYSTEM
from tests.catalog.factories import (
    ComponentDictFactory,
    GroupDictFactory,
    LocationDictFactory,
    LocationFactory,
    UserDictFactory,
    write_docs,
)
from tests.catalog.remotes import http_server
from tests.portal.factories import AdminFactory, UserFactory


@pytest.fixture
def root(tmp_path, settings):
    base = tmp_path / "catalog"
    base.mkdir()
    settings.PAVED_CATALOG_FILE_ROOTS = [str(base)]
    return base


def names(location: Location, **filters) -> set[str]:
    return set(
        Entity.objects.filter(location=location, **filters)
        .exclude(name__startswith="generated-")
        .values_list("name", flat=True)
    )


def register(path, *, trusted: bool = True):
    return LocationFactory(type="file", target=str(path), trusted=trusted)


def test_location_create_registers_audits_and_refreshes_on_commit(db, root, django_capture_on_commit_callbacks):
    write_docs(root / "catalog-info.yaml", [ComponentDictFactory(name="checkout")])
    actor = UserFactory()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        location = services.location_create(type="file", target=str(root / "catalog-info.yaml"), actor=actor)

    # One refresh enqueued; the refresh then tells the change listeners (catalog.extensions) about what it wrote.
    assert getattr(callbacks[0], "args", ()) == ("catalog.location_refresh",)
    assert len(callbacks) == 2
    location.refresh_from_db()
    assert location.state == Location.State.OK
    assert location.created_by == actor
    assert names(location) == {"checkout"}
    assert AuditEvent.objects.filter(action="catalog.location.create", target_id=str(location.pk)).exists()


def test_location_create_refuses_a_duplicate_target_with_a_conflict(db, root):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM)

    with pytest.raises(ConflictError, match="already exists"):
        services.location_create(type="file", target=str(root / "x" / ".." / "a.yaml"), actor=SYSTEM)
    assert Location.objects.count() == 1


@pytest.mark.parametrize(
    ("type_", "target", "message"),
    [
        ("ftp", "/x", "Unknown location type"),
        ("file", "   ", "needs a target"),
        ("file", "relative.yaml", "absolute path"),
        ("file", "/etc/passwd", "outside the allowed file roots"),
        ("url", "file:///etc/passwd", "scheme 'file' is not allowed"),
        ("url", "https://evil.test/catalog-info.yaml", "host not allowed"),
        ("git", "--upload-pack=touch /tmp/x", "must not start with '-'"),
    ],
)
def test_location_create_refuses_invalid_targets_writing_nothing(db, root, type_, target, message):
    with pytest.raises(ValidationError, match=message):
        services.location_create(type=type_, target=target, actor=SYSTEM)
    assert Location.objects.count() == 0


def test_location_create_lets_only_admins_register_trusted_locations(db, root):
    write_docs(root / "org.yaml", [GroupDictFactory(name="team-a")])

    with pytest.raises(ForbiddenError):
        services.location_create(type="file", target=str(root / "org.yaml"), trusted=True, actor=UserFactory())
    assert services.location_create(
        type="file", target=str(root / "org.yaml"), trusted=True, actor=AdminFactory()
    ).trusted


def test_location_create_dry_run_returns_entities_and_errors_writing_nothing(db, root):
    write_docs(
        root / "a.yaml",
        [
            ComponentDictFactory(name="a"),
            GroupDictFactory(name="team-a"),
            {**ComponentDictFactory(name="bad"), "spec": {}},
        ],
    )

    dry = services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM, dry_run=True)

    assert dry.exists is False
    assert [e["metadata"]["name"] for e in dry.entities][1:] == ["a"]
    assert any("may only come from a trusted location" in e["message"] for e in dry.errors)
    assert any("component:default/bad" in e["message"] for e in dry.errors)
    assert Location.objects.count() == 0
    assert Entity.objects.count() == 0


def test_location_refresh_follows_nested_locations_and_reads_cycles_once(db, root):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./teams/a.yaml", "./teams/*.yaml"])])
    write_docs(
        root / "teams" / "a.yaml",
        [ComponentDictFactory(name="a"), LocationDictFactory(name="back", targets=["../all.yaml"])],
    )
    write_docs(root / "teams" / "b.yaml", [ComponentDictFactory(name="b")])
    location = register(root / "all.yaml")

    result = services.location_refresh(location=location)

    assert result.files_read == 3
    assert names(location, kind="Component") == {"a", "b"}
    assert result.applied.errors == []


def test_location_refresh_keeps_entities_when_the_root_file_is_deleted(db, root):
    path = write_docs(
        root / "all.yaml",
        [LocationDictFactory(name="all", targets=["./a.yaml"]), ComponentDictFactory(name="root-svc")],
    )
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    location = register(path)
    services.location_refresh(location=location)
    path.unlink()

    services.location_refresh(location=location)
    services.location_refresh(location=location)

    location.refresh_from_db()
    assert names(location) == {"all", "root-svc", "a"}
    assert not Entity.objects.filter(orphan=True).exists()
    assert location.state == Location.State.FAILED
    assert location.failed_attempts == 2
    assert location.last_success_at is not None
    assert "all.yaml: file not found" in location.errors[0]["message"]


def test_location_refresh_keeps_entities_when_the_host_is_unreachable(db, settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    routes = {"/catalog-info.yaml": (200, {}, yaml_bytes([ComponentDictFactory(name="remote")]))}
    with http_server(routes) as base:
        location = LocationFactory(type="url", target=f"{base}/catalog-info.yaml", trusted=False)
        services.location_refresh(location=location)
    # The server is gone now: the port is closed.

    services.location_refresh(location=location)

    location.refresh_from_db()
    assert names(location) == {"remote"}
    assert location.state == Location.State.FAILED
    assert "could not connect" in location.errors[0]["message"]
    assert base in location.errors[0]["message"]


def test_location_refresh_keeps_a_nested_files_entities_and_its_children_when_its_yaml_breaks(db, root):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./team.yaml"])])
    team = write_docs(
        root / "team.yaml",
        [ComponentDictFactory(name="t1"), LocationDictFactory(name="deeper", targets=["./deep.yaml"])],
    )
    write_docs(root / "deep.yaml", [ComponentDictFactory(name="d1")])
    location = register(root / "all.yaml")
    services.location_refresh(location=location)
    team.write_text("kind: [this is not yaml\n")

    result = services.location_refresh(location=location)

    assert names(location) == {"all", "t1", "deeper", "d1"}
    assert not Entity.objects.filter(orphan=True).exists()
    assert any("team.yaml" in e["message"] and "invalid YAML" in e["message"] for e in result.applied.errors)


def test_location_refresh_orphans_an_entity_removed_from_a_clean_file(db, root):
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="stays"), ComponentDictFactory(name="goes")])
    location = register(path)
    services.location_refresh(location=location)
    write_docs(path, [ComponentDictFactory(name="stays")])

    result = services.location_refresh(location=location)

    assert result.applied.orphaned == 1
    assert Entity.objects.get(name="goes").orphan is True
    assert Entity.objects.get(name="stays").orphan is False


def test_location_refresh_deletes_removed_entities_under_the_delete_policy(db, root, settings):
    settings.PAVED_CATALOG_ORPHAN_POLICY = "delete"
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="stays"), ComponentDictFactory(name="goes")])
    location = register(path)
    services.location_refresh(location=location)
    write_docs(path, [ComponentDictFactory(name="stays")])

    result = services.location_refresh(location=location)

    assert result.applied.deleted == 1
    assert names(location) == {"stays"}


def test_location_refresh_leaves_a_conflicting_entity_with_its_first_location(db, root):
    first = register(write_docs(root / "first.yaml", [ComponentDictFactory(name="shared", owner="team-a")]))
    second = register(write_docs(root / "second.yaml", [ComponentDictFactory(name="shared", owner="team-b")]))
    services.location_refresh(location=first)

    services.location_refresh(location=second)

    shared = Entity.objects.get(name="shared")
    assert shared.location == first
    assert shared.owner_ref == "group:default/team-a"
    second.refresh_from_db()
    assert "Conflict: component:default/shared is already managed by location" in second.errors[0]["message"]


def test_location_refresh_refuses_org_data_from_an_untrusted_location(db, root):
    location = register(
        write_docs(
            root / "a.yaml",
            [GroupDictFactory(name="sneaky"), UserDictFactory(name="mallory"), ComponentDictFactory(name="ok")],
        ),
        trusted=False,
    )

    result = services.location_refresh(location=location)

    assert names(location) == {"ok"}
    assert sum("may only come from a trusted location" in e["message"] for e in result.applied.errors) == 2


def test_location_refresh_refuses_file_targets_nested_in_a_url_location(db, root, settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    write_docs(root / "local.yaml", [ComponentDictFactory(name="local")])
    doc = LocationDictFactory(name="x", targets=[str(root / "local.yaml")], type="file")
    with http_server({"/c.yaml": (200, {}, yaml_bytes([doc]))}) as base:
        location = LocationFactory(type="url", target=f"{base}/c.yaml", trusted=False)
        result = services.location_refresh(location=location)

    assert names(location) == {"x"}
    assert any("a url location may not nest file targets" in e["message"] for e in result.applied.errors)


def test_location_refresh_stops_at_the_file_cap(db, root, settings):
    settings.PAVED_CATALOG_MAX_FILES = 2
    for name in "abc":
        write_docs(root / f"{name}.yaml", [ComponentDictFactory(name=name)])
    location = register(root)

    result = services.location_refresh(location=location)

    assert result.files_read == 2
    assert any("more than 2 files" in e["message"] for e in result.applied.errors)


def test_location_refresh_is_idempotent(db, root):
    location = register(
        write_docs(
            root / "a.yaml", [ComponentDictFactory(name="a"), ComponentDictFactory(name="b", dependsOn=["component:a"])]
        )
    )
    services.location_refresh(location=location)

    again = services.location_refresh(location=location)

    assert (again.applied.created, again.applied.updated, again.applied.unchanged) == (0, 0, 3)


def test_location_delete_removes_the_location_and_its_entities(db, root):
    location = register(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")]))
    other = register(write_docs(root / "b.yaml", [ComponentDictFactory(name="b")]))
    services.location_refresh(location=location)
    services.location_refresh(location=other)

    deleted = services.location_delete(location=location, actor=AdminFactory())

    assert deleted == 2  # the component and the synthetic Location
    assert not Location.objects.filter(pk=location.pk).exists()
    assert set(Entity.objects.exclude(name__startswith="generated-").values_list("name", flat=True)) == {"b"}
    assert AuditEvent.objects.filter(action="catalog.location.delete").count() == 1


def test_location_set_trusted_is_for_admins_and_audited(db, root, django_capture_on_commit_callbacks):
    location = register(write_docs(root / "org.yaml", [GroupDictFactory(name="team-a")]), trusted=False)

    with pytest.raises(ForbiddenError):
        services.location_set_trusted(location=location, trusted=True, actor=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        services.location_set_trusted(location=location, trusted=True, actor=AdminFactory())

    assert names(location) == {"team-a"}
    assert AuditEvent.objects.filter(action="catalog.location.set_trusted").count() == 1


def test_entity_delete_comes_back_on_refresh_unless_removed_from_source(db, root):
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="a"), ComponentDictFactory(name="b")])
    location = register(path)
    services.location_refresh(location=location)

    services.entity_delete(entity=Entity.objects.get(name="a"), actor=AdminFactory())
    assert names(location) == {"b"}
    services.location_refresh(location=location)
    assert names(location) == {"a", "b"}

    write_docs(path, [ComponentDictFactory(name="b")])
    services.location_refresh(location=location)
    services.entity_delete(entity=Entity.objects.get(name="a", orphan=True), actor=SYSTEM)
    services.location_refresh(location=location)
    assert names(location) == {"b"}


def test_locations_refresh_due_enqueues_due_locations_once(db, root, django_capture_on_commit_callbacks):
    due = register(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")]))
    later = register(write_docs(root / "b.yaml", [ComponentDictFactory(name="b")]))
    Location.objects.filter(pk=due.pk).update(next_refresh_at=timezone.now() - timedelta(minutes=1))
    Location.objects.filter(pk=later.pk).update(next_refresh_at=timezone.now() + timedelta(minutes=10))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.locations_refresh_due() == 1
    assert services.locations_refresh_due() == 0

    assert names(due) == {"a"}
    assert names(later) == set()


def test_location_refresh_fail_records_the_error_and_keeps_entities(db, root):
    location = register(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")]))
    services.location_refresh(location=location)

    services.location_refresh_fail(location=location, error="database went away")

    location.refresh_from_db()
    assert location.state == Location.State.FAILED
    assert location.failed_attempts == 1
    assert "database went away" in location.errors[0]["message"]
    assert names(location) == {"a"}


def yaml_bytes(docs) -> bytes:
    import yaml

    return yaml.safe_dump_all(docs).encode()
