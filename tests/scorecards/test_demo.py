"""The demo services' repositories (portal/demo/repositories.yaml): entries that cannot be applied are reported by
service and skipped, and nothing is written outside the repository being built."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from catalog import demo as catalog_demo
from scorecards import demo

pytestmark = pytest.mark.django_db


def load(tmp_path: Path, text: str) -> tuple[list[demo.Published], str]:
    source = tmp_path / "repositories.yaml"
    source.write_text(text)
    out = io.StringIO()
    published = demo.repositories_load(stdout=out, source=source)
    return published, out.getvalue()


def test_entries_that_cannot_be_applied_are_reported_by_service_and_skipped(tmp_path, var_dir):
    catalog_demo.load(stdout=io.StringIO())

    published, out = load(
        tmp_path,
        "no-such-service: {}\n"
        "payments-service: {}\n"
        "fraud-scoring:\n  remove: [../../outside.txt]\n"
        "auth-service:\n  remove: [NOTES.md]\n"
        "returns-service:\n  replace: [{path: go.mod, old: nothing like this, new: x}]\n"
        "tracking-service:\n  rename: [README.md]\n",
    )

    assert published == []
    assert "error: no-such-service: no such component in the demo organisation" in out
    assert "error: payments-service: its backstage.io/source-location (none) does not name a repository" in out
    assert "error: fraud-scoring: '../../outside.txt' is not a path inside the repository" in out
    assert "error: auth-service: cannot remove NOTES.md: the template has no such file" in out
    assert "error: returns-service: go.mod does not contain 'nothing like this'" in out
    assert "error: tracking-service: unknown changes ['rename'] (remove, replace)" in out
    assert "Demo repositories: 0 services' repositories" in out
    assert not (var_dir / "repos" / "payments" / "fraud-scoring.git").exists()


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    with pytest.raises(demo.DemoRepositoryError, match="expected a mapping"):
        load(tmp_path, "- fraud-scoring\n")


def _show(repository: Path, spec: str) -> str:
    import subprocess

    done = subprocess.run(["git", f"--git-dir={repository}", "show", spec], capture_output=True, text=True, check=True)
    return done.stdout


def test_a_service_is_rendered_from_the_template_version_it_was_created_from(tmp_path, var_dir):
    catalog_demo.load(stdout=io.StringIO())

    published, out = load(tmp_path, "accounts-service: {}\nauth-service: {}\n")

    assert [item.service for item in published] == ["accounts-service", "auth-service"], out
    old, current = (item.path for item in published)
    # accounts-service says it was created from go-service 0.9.0: CI builds the image but does not vet, and the image
    # is not yet the unprivileged one; auth-service is on 1.0.0, the template as it is now.
    assert "docker build" in _show(old, "main:.github/workflows/ci.yml")
    assert "go vet" not in _show(old, "main:.github/workflows/ci.yml")
    assert ":nonroot" not in _show(old, "main:Dockerfile")
    assert "go vet" in _show(current, "main:.github/workflows/ci.yml")
    assert ":nonroot" in _show(current, "main:Dockerfile")
    assert '"0.9.0"' in _show(old, "main:catalog-info.yaml")


def test_a_service_naming_a_version_its_template_never_had_is_reported_and_skipped(tmp_path, var_dir):
    from catalog.models import Entity

    catalog_demo.load(stdout=io.StringIO())
    entity = Entity.objects.get(ref="component:default/accounts-service")
    entity.data["metadata"]["annotations"]["paved.dev/template-version"] = "0.7.0"
    entity.save(update_fields=["data"])

    published, out = load(tmp_path, "accounts-service: {}\n")

    assert published == []
    assert (
        "error: accounts-service: paved.dev/template-version '0.7.0' is not a version of go-service "
        "(v0.8.0, v0.9.0, v1.0.0)"
    ) in out
    assert not (var_dir / "repos" / "identity" / "accounts-service.git").exists()
