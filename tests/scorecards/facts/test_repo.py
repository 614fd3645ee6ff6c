from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scorecards.facts import git, repo
from scorecards.facts.view import CatalogView, EntityRow
from tests.scorecards.orgs import commit, make_repo

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REF = "component:default/shop"


def view_with(annotations: dict[str, str]) -> CatalogView:
    data = {"kind": "Component", "metadata": {"name": "shop", "namespace": "default", "annotations": annotations}}
    return CatalogView(entities={REF: EntityRow(REF, "Component", "default", "group:default/payments", data)})


def collect(annotations: dict[str, str], *paths: str, stored=None) -> dict[str, object]:
    keys = {f"repo.file:{path}" for path in paths}
    facts = repo.collect(view_with(annotations), {REF: keys}, NOW, stored or {})[REF]
    return {fact.key: fact for fact in facts}


def test_files_are_read_as_blobs_at_the_head_of_the_default_branch(settings):
    repository = make_repo("files", {"README.md": "# Shop\n", "docs/guide.md": "guide\n"})
    head = commit(repository, {"CODEOWNERS": "* @payments\n"})

    facts = collect(
        {"backstage.io/source-location": f"url:{repository}"}, "README.md", "docs/guide.md", "Dockerfile", "CODEOWNERS"
    )

    assert facts["repo.file:README.md"].value == {"exists": True, "text": "# Shop\n", "truncated": False}
    assert facts["repo.file:docs/guide.md"].value["text"] == "guide\n"
    assert facts["repo.file:Dockerfile"].value == {"exists": False, "text": None, "truncated": False}
    assert facts["repo.file:Dockerfile"].error is None
    assert facts["repo.file:CODEOWNERS"].source == f"git:{repository}#HEAD@{head}:CODEOWNERS"
    assert all(fact.collected_at == NOW for fact in facts.values())


def test_the_git_location_a_scaffolded_service_was_registered_from_names_its_repository():
    repository = make_repo("scaffolded", {"README.md": "hello\n"})

    facts = collect({"backstage.io/managed-by-location": f"git:{repository}#HEAD:catalog-info.yaml"}, "README.md")

    assert facts["repo.file:README.md"].value["exists"] is True


def test_a_source_location_may_name_a_ref_and_a_file_url():
    repository = make_repo("refs", {"README.md": "v1\n"})
    commit(repository, {"README.md": "v2\n"})

    facts = collect({"backstage.io/source-location": f"url:file://{repository}#main"}, "README.md")

    assert facts["repo.file:README.md"].value["text"] == "v2\n"
    assert "#main@" in facts["repo.file:README.md"].source


def test_a_directory_is_not_a_file_and_a_symbolic_link_has_no_text(tmp_path):
    repository = make_repo("kinds", {"docs/a.md": "a\n"})

    facts = collect({"backstage.io/source-location": f"url:{repository}"}, "docs")

    assert facts["repo.file:docs"].value == {"exists": False, "text": None, "truncated": False}


def test_a_binary_file_exists_without_text():
    repository = make_repo("binary", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary"})

    facts = collect({"backstage.io/source-location": f"url:{repository}"}, "logo.png")

    assert facts["repo.file:logo.png"].value == {"exists": True, "text": None, "truncated": False}


def test_a_long_file_is_cut_and_a_huge_one_is_not_read(monkeypatch):
    repository = make_repo("big", {"long.txt": "x" * 5000, "huge.txt": "y" * 20_000})
    monkeypatch.setattr(git, "MAX_TEXT_CHARS", 1000)
    monkeypatch.setattr(git, "MAX_BLOB_BYTES", 10_000)

    facts = collect({"backstage.io/source-location": f"url:{repository}"}, "long.txt", "huge.txt")

    assert facts["repo.file:long.txt"].value == {"exists": True, "text": "x" * 1000, "truncated": True}
    assert facts["repo.file:huge.txt"].value == {"exists": True, "text": "", "truncated": True}


def test_an_unchanged_head_reuses_the_stored_value_and_a_moved_head_reads_again():
    repository = make_repo("moves", {"a.txt": "one\n"})
    first = collect({"backstage.io/source-location": f"url:{repository}"}, "a.txt")
    stored = {REF: {"repo.file:a.txt": first["repo.file:a.txt"]}}
    # A value nobody wrote: reused only while the head has not moved.
    from dataclasses import replace

    stored[REF]["repo.file:a.txt"] = replace(
        first["repo.file:a.txt"], value={"exists": True, "text": "cached", "truncated": False}
    )

    again = collect({"backstage.io/source-location": f"url:{repository}"}, "a.txt", stored=stored)
    assert again["repo.file:a.txt"].value["text"] == "cached"

    commit(repository, {"a.txt": "two\n"})
    moved = collect({"backstage.io/source-location": f"url:{repository}"}, "a.txt", stored=stored)
    assert moved["repo.file:a.txt"].value["text"] == "two\n"


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, "no repository is known for this entity"),
        (
            {"backstage.io/source-location": "url:https://git.example.org/acme/shop/tree/main/"},
            "repository host git.example.org is not configured: add it to PAVED_SCM_INTEGRATIONS",
        ),
        (
            {"backstage.io/source-location": "url:git@github.com:acme/shop.git"},
            "repositories on github.com are read through the host's API: name the repository by its https:// URL",
        ),
        ({"backstage.io/source-location": "url:/etc"}, "outside the allowed repository roots"),
        ({"backstage.io/source-location": "url:relative/path.git"}, "needs an absolute path"),
        ({"backstage.io/source-location": "dir:/srv/x"}, "must be url:<repository> or git:<repository>"),
        ({"backstage.io/source-location": "url:/srv/x.git#--upload-pack=touch /tmp/pwned"}, "must not"),
        ({"backstage.io/source-location": "url:/srv/x.git#-oops"}, "must not start with '-'"),
    ],
)
def test_a_repository_that_cannot_be_read_is_a_collection_error_never_an_exception(annotations, message):
    facts = collect(annotations, "README.md")

    fact = facts["repo.file:README.md"]
    assert fact.value is None
    assert message in fact.error


def test_a_source_location_escaping_the_repository_root_through_dot_dot_is_refused(settings):
    repository = make_repo("escape", {"README.md": "x\n"})
    escaping = f"{repository.parent}/../../../../etc"

    facts = collect({"backstage.io/source-location": f"url:{escaping}"}, "README.md")

    assert "outside the allowed repository roots" in facts["repo.file:README.md"].error


def test_a_symbolic_link_out_of_the_repository_root_is_refused(tmp_path):
    outside = tmp_path / "outside.git"
    outside.mkdir()
    repository = make_repo("linkroot", {"README.md": "x\n"})
    link = repository.parent / f"link-{tmp_path.name}.git"
    link.symlink_to(outside)

    facts = collect({"backstage.io/source-location": f"url:{link}"}, "README.md")

    assert "outside the allowed repository roots" in facts["repo.file:README.md"].error


@pytest.mark.parametrize("path", ["../secrets", "/etc/passwd", "a/../../b", "bad\nname", "nul\x00"])
def test_a_path_outside_the_repository_is_refused(path):
    repository = make_repo("paths", {"README.md": "x\n"})

    facts = collect({"backstage.io/source-location": f"url:{repository}"}, path)

    assert "is not a path inside a repository" in facts[f"repo.file:{path}"].error


def test_a_path_that_looks_like_an_option_is_only_a_path():
    repository = make_repo("options", {"README.md": "x\n"})

    facts = collect({"backstage.io/source-location": f"url:{repository}"}, "--output=/tmp/x")

    assert facts["repo.file:--output=/tmp/x"].value == {"exists": False, "text": None, "truncated": False}


def test_a_ref_that_names_no_commit_is_an_error():
    repository = make_repo("noref", {"README.md": "x\n"})

    facts = collect({"backstage.io/source-location": f"url:{repository}#no-such-branch"}, "README.md")

    assert facts["repo.file:README.md"].error.startswith(f"{repository}#no-such-branch")


def test_an_entity_missing_from_the_catalog_gets_errors():
    facts = repo.collect(CatalogView(), {"component:default/ghost": {"repo.file:README.md"}}, NOW, {})

    assert facts["component:default/ghost"][0].error == "component:default/ghost is not in the catalog"


def test_a_source_location_may_name_a_repository_of_paved_git_host_by_owner_and_name():
    repository = make_repo("embedded", {"README.md": "# Shop\n"})
    owner = f"team-{repository.name[-12:-4]}"
    (repository.parent / owner).mkdir()
    moved = repository.rename(repository.parent / owner / "shop.git")

    facts = collect({"backstage.io/source-location": f"url:local?owner={owner}&repo=shop#main"}, "README.md")

    assert facts["repo.file:README.md"].value["text"] == "# Shop\n"
    assert facts["repo.file:README.md"].source.startswith(f"git:{moved}#main@")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("url:local?owner=../etc&repo=shop", "is not a valid name"),
        ("url:local?owner=payments", "repo is missing"),
        ("url:local?owner=payments&repo=shop&token=x", "unknown parameter 'token'"),
        ("url:local?owner=payments&repo=--upload-pack=x", "is not a valid name"),
        ("url:local?owner=payments&repo=nowhere", "not a git repository"),
    ],
)
def test_a_repository_of_paved_git_host_named_wrongly_is_an_error_saying_why(location, message):
    facts = collect({"backstage.io/source-location": location}, "README.md")

    fact = facts["repo.file:README.md"]
    assert fact.value is None
    assert message in fact.error
