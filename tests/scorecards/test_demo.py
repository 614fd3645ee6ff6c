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
