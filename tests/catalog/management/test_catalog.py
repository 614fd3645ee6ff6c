"""`manage.py catalog import|refresh|validate|locations`."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog import services
from catalog.models import Entity, Location
from tests.catalog.factories import (
    ComponentDictFactory,
    GroupDictFactory,
    LocationDictFactory,
    LocationFactory,
    write_docs,
)
from tests.catalog.remotes import bare_repo


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def run(*args: str) -> str:
    out = StringIO()
    call_command("catalog", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_catalog_import_registers_and_refreshes_with_a_summary(db, root):
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./a.yaml"])])
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a"), GroupDictFactory(name="team-a")])

    output = run("import", str(root / "all.yaml"), "--trusted")

    location = Location.objects.get()
    assert location.trusted
    assert "files read: 2, entities created: 4, updated: 0, unchanged: 0" in output
    assert Entity.objects.filter(name="team-a").exists()


def test_catalog_import_of_a_registered_target_refreshes_it(db, root):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    run("import", str(root / "a.yaml"))

    output = run("import", str(root / "a.yaml"))

    assert "already registered" in output
    assert "entities created: 0, updated: 0, unchanged: 2" in output


def test_catalog_import_reads_git_repositories(db, root):
    repo = bare_repo(root, {"catalog-info.yaml": yaml.safe_dump(ComponentDictFactory(name="from-git"))})

    output = run("import", f"{repo}#main")

    assert Location.objects.get().type == "git"
    assert "entities created: 2" in output
    assert Entity.objects.filter(name="from-git").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "/etc/passwd"], "outside the allowed file roots"),
        (["import", "https://evil.test/catalog-info.yaml"], "host not allowed"),
        (["import", "--type", "git", "--", "--upload-pack=x"], "must not start with '-'"),
        (["refresh", "not-a-uuid"], "is not a location id"),
        (["refresh", "6a0c1c1e-0000-4000-8000-000000000000"], "No location with id"),
    ],
)
def test_catalog_command_errors_are_clear(db, root, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_catalog_refresh_one_and_all(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
    LocationFactory(type="file", target=str(write_docs(root / "b.yaml", [ComponentDictFactory(name="b")])))

    assert "entities created: 2" in run("refresh", str(location.pk))
    output = run("refresh", "--all")

    assert output.count("Refreshing") == 2
    assert Entity.objects.filter(name__in=["a", "b"]).count() == 2


def test_catalog_refresh_fails_when_a_location_has_errors(db, root):
    location = LocationFactory(type="file", target=str(root / "missing.yaml"))

    with pytest.raises(CommandError, match="has errors"):
        run("refresh", str(location.pk))


def test_catalog_validate_passes_clean_files(db, root):
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="a"), GroupDictFactory(name="team-a")])

    assert "1 files, 2 valid entities, 0 issues" in run("validate", str(path))


def test_catalog_validate_exits_non_zero_printing_each_issue(db, root):
    path = write_docs(
        root / "a.yaml",
        [ComponentDictFactory(name="a"), {**ComponentDictFactory(name="b"), "spec": {"type": "service"}}],
    )
    broken = root / "broken.yaml"
    broken.write_text("kind: [nope\n")
    err = StringIO()

    with pytest.raises(CommandError, match="2 files, 1 valid entities, 3 issues"):
        call_command("catalog", "validate", str(path), str(broken), stdout=StringIO(), stderr=err)

    assert "component:default/b): spec.lifecycle" in err.getvalue()
    assert "broken.yaml, document 0: invalid YAML" in err.getvalue()
    assert Entity.objects.count() == 0


def test_catalog_validate_reports_missing_files(db, root):
    with pytest.raises(CommandError, match="No such file"):
        run("validate", str(root / "nope.yaml"))


def test_catalog_validate_exit_code_from_the_command_line(root):
    import subprocess
    import sys

    path = write_docs(root / "a.yaml", [{**ComponentDictFactory(name="b"), "spec": {}}])

    done = subprocess.run(
        [sys.executable, "manage.py", "catalog", "validate", str(path)],
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert done.returncode == 1
    assert "spec.owner" in done.stderr


def test_catalog_locations_lists_state(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
    services.location_refresh(location=location)

    output = run("locations")

    assert str(location.pk) in output
    assert "ok" in output
    assert "2 entities" in output


def test_demo_setup_loads_acme_retail_without_errors_or_dangling_references(db, django_capture_on_commit_callbacks):
    from collections import Counter

    from catalog.models import Relation

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_setup", stdout=out)
    call_command("demo_setup", stdout=out)  # idempotent

    location = Location.objects.get(type=Location.Type.FILE)  # the demo templates are git locations
    assert location.trusted
    assert location.errors == []
    kinds = Counter(Entity.objects.values_list("kind", flat=True))
    assert kinds["Group"] >= 10
    assert kinds["User"] >= 30
    assert kinds["Component"] >= 40
    assert kinds["API"] >= 12
    assert kinds["Resource"] >= 8
    assert 4 <= kinds["Domain"] <= 5
    refs = set(Entity.objects.values_list("ref", flat=True))
    dangling = set(Relation.objects.exclude(target_ref__in=refs).values_list("target_ref", flat=True))
    assert dangling == set()
    assert "created 0, updated 0" in out.getvalue()
