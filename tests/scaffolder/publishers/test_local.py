"""The embedded git host publisher: repositories `git clone` reads, idempotent retries, and what it refuses."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from scaffolder.publishers import PublishError
from scaffolder.publishers.local import (
    LocalRepo,
    catalog_location_target,
    parse_local_repo_url,
    publish_local,
)

HOSTILE_NAMES = ["../x", "-x", "a/b", "x.git/..", "..", ".hidden", "x.git", "Checkout", "", "chéckout", "x y", "a" * 64]


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True)
    return done.stdout.strip()


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "src" / "checkout").mkdir(parents=True)
    (root / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\n"
        "spec:\n  type: service\n  lifecycle: experimental\n  owner: group:payments\n"
    )
    (root / "src" / "checkout" / "__init__.py").write_text("VERSION = '0.1.0'\n")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho checkout\n")
    script.chmod(0o755)
    return root


@pytest.fixture
def repos_root(tmp_path: Path) -> Path:
    return tmp_path / "var" / "repos"


def publish(repos_root: Path, workspace: Path, **overrides):
    arguments = {
        "repos_root": repos_root,
        "owner": "payments",
        "repo": "checkout",
        "workspace": workspace,
        "author_name": "Ann Lee",
        "author_email": "ann.lee@example.com",
        "message": "Create checkout from template service",
        "idempotency_key": "run-7f3a:publish",
        **overrides,
    }
    return publish_local(**arguments)


def test_parse_local_repo_url_reads_owner_and_repo():
    assert parse_local_repo_url("local?owner=payments&repo=checkout") == LocalRepo("payments", "checkout")
    assert parse_local_repo_url("local?repo=checkout&owner=payments").repo_url == "local?owner=payments&repo=checkout"


@pytest.mark.parametrize(
    ("repo_url", "reason"),
    [
        ("github.com?owner=payments&repo=checkout", "expects 'local"),
        ("local", "expects 'local"),
        ("file:///srv/x?owner=a&repo=b", "expects 'local"),
        ("local?owner=payments", "repo is missing"),
        ("local?owner=&repo=checkout", "owner is missing"),
        ("local?owner=a&repo=b&repo=c", "more than once"),
        ("local?owner=a&repo=b&organization=c", "unknown parameter"),
        ("local?owner=a&repo=b&&", "malformed"),
        ("local?owner=%2E%2E&repo=x", "not a valid name"),
        ("local?owner=a&repo=..%2Fx", "not a valid name"),
        ("local?owner=a&repo=--upload-pack%3Dtouch", "not a valid name"),
    ],
)
def test_parse_local_repo_url_refuses_other_hosts_and_malformed_values(repo_url, reason):
    with pytest.raises(PublishError, match=reason) as raised:
        parse_local_repo_url(repo_url)

    assert raised.value.code == "invalid"


@pytest.mark.parametrize("name", [name for name in HOSTILE_NAMES if name])
def test_parse_local_repo_url_refuses_hostile_names(name):
    with pytest.raises(PublishError, match="not a valid name"):
        parse_local_repo_url(f"local?owner=payments&repo={name}")


def test_publish_local_creates_a_repository_that_git_clone_reads_with_the_files_and_the_requester_as_author(
    tmp_path, repos_root, workspace
):
    result = publish(repos_root, workspace)

    repository = (repos_root / "payments" / "checkout.git").resolve()
    assert result.created
    assert result.remote_url == str(repository)
    assert result.repo_contents_url == f"{repository}#main:"
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--", result.remote_url, str(clone))
    assert tree(clone) == tree(workspace)
    assert os.access(clone / "run.sh", os.X_OK)
    assert git("rev-parse", "HEAD", cwd=clone) == result.commit_hash
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone) == "main"
    assert git("log", "--format=%an <%ae>|%cn <%ce>", cwd=clone) == (
        "Ann Lee <ann.lee@example.com>|Ann Lee <ann.lee@example.com>"
    )
    assert git("log", "--format=%B", cwd=clone).splitlines() == [
        "Create checkout from template service",
        "",
        "Paved-Run: run-7f3a:publish",
    ]


def test_publish_local_honours_the_default_branch(tmp_path, repos_root, workspace):
    result = publish(repos_root, workspace, default_branch="trunk")

    clone = tmp_path / "clone"
    git("clone", "--quiet", "--", result.remote_url, str(clone))
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone) == "trunk"
    assert result.repo_contents_url.endswith(".git#trunk:")


def test_publish_local_retry_with_the_same_key_returns_the_same_commit_and_no_second_repository(repos_root, workspace):
    first = publish(repos_root, workspace)
    (workspace / "catalog-info.yaml").write_text("changed after the first publish\n")

    again = publish(repos_root, workspace)

    assert again.created is False
    assert (again.remote_url, again.commit_hash) == (first.remote_url, first.commit_hash)
    assert [path.name for path in (repos_root / "payments").iterdir() if path.is_dir()] == ["checkout.git"]
    assert git("--git-dir", first.remote_url, "rev-list", "--all").splitlines() == [first.commit_hash]


def test_publish_local_retry_finds_its_commit_after_others_pushed_on_top(tmp_path, repos_root, workspace):
    first = publish(repos_root, workspace)
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--", first.remote_url, str(clone))
    (clone / "NEWS.md").write_text("later work\n")
    git("add", "NEWS.md", cwd=clone)
    git("-c", "user.name=Bo", "-c", "user.email=bo@example.com", "commit", "--quiet", "-m", "News", cwd=clone)
    git("push", "--quiet", "origin", "main", cwd=clone)

    again = publish(repos_root, workspace)

    assert (again.created, again.commit_hash) == (False, first.commit_hash)


def test_publish_local_refuses_a_repository_published_by_another_run(repos_root, workspace):
    first = publish(repos_root, workspace)

    with pytest.raises(
        PublishError, match=r"A repository local\?owner=payments&repo=checkout already exists"
    ) as raised:
        publish(repos_root, workspace, idempotency_key="run-other:publish")

    assert raised.value.code == "exists"
    assert git("--git-dir", first.remote_url, "rev-list", "--all").splitlines() == [first.commit_hash]


def test_publish_local_refuses_a_repository_with_other_branches_only(repos_root, workspace):
    publish(repos_root, workspace, default_branch="trunk")

    with pytest.raises(PublishError, match="already exists"):
        publish(repos_root, workspace)


def test_publish_local_completes_an_empty_repository_left_by_a_crash(tmp_path, repos_root, workspace):
    repository = repos_root / "payments" / "checkout.git"
    repository.parent.mkdir(parents=True)
    git("init", "--quiet", "--bare", "--", str(repository))
    git("--git-dir", str(repository), "hash-object", "-w", "--", str(workspace / "run.sh"))

    result = publish(repos_root, workspace)

    assert result.created
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--", result.remote_url, str(clone))
    assert tree(clone) == tree(workspace)


def test_publish_local_completes_a_directory_left_by_a_crash_during_git_init(repos_root, workspace):
    repository = repos_root / "payments" / "checkout.git"
    (repository / "objects").mkdir(parents=True)

    result = publish(repos_root, workspace)

    assert result.created
    assert git("--git-dir", str(repository), "rev-parse", "main") == result.commit_hash


def test_publish_local_never_runs_hooks_from_templates_config_or_the_repository(
    tmp_path, repos_root, workspace, monkeypatch
):
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "evil" / "hooks"
    hooks.mkdir(parents=True)
    for name in ("reference-transaction", "post-update", "pre-commit", "post-commit", "post-index-change"):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        (hooks / name).chmod(0o755)
    evil_config = tmp_path / "evil" / "gitconfig"
    evil_config.write_text(f"[init]\n\ttemplateDir = {hooks.parent}\n[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(evil_config))
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(hooks.parent))
    monkeypatch.setenv("HOME", str(tmp_path / "evil"))
    # An empty repository left behind, with a hook planted in it, is adopted without running the hook.
    planted = repos_root / "payments" / "planted.git"
    planted.parent.mkdir(parents=True)
    git("init", "--quiet", "--bare", f"--template={hooks.parent}", "--", str(planted))
    assert (planted / "hooks" / "reference-transaction").exists()

    created = publish(repos_root, workspace)
    adopted = publish(repos_root, workspace, repo="planted")

    assert created.created
    assert adopted.created
    assert not marker.exists()
    assert not (Path(created.remote_url) / "hooks").exists()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("field", ["owner", "repo"])
def test_publish_local_refuses_hostile_names_and_creates_nothing(tmp_path, repos_root, workspace, field, name):
    before = sorted(tmp_path.rglob("*"))

    with pytest.raises(PublishError, match="not a valid name") as raised:
        publish(repos_root, workspace, **{field: name})

    assert raised.value.code == "invalid"
    assert sorted(tmp_path.rglob("*")) == before


def test_publish_local_refuses_an_owner_directory_that_is_a_symlink(tmp_path, repos_root, workspace):
    outside = tmp_path / "outside"
    outside.mkdir()
    repos_root.mkdir(parents=True)
    (repos_root / "payments").symlink_to(outside)

    with pytest.raises(PublishError, match="symbolic link") as raised:
        publish(repos_root, workspace)

    assert raised.value.code == "unsafe"
    assert list(outside.iterdir()) == []


def test_publish_local_refuses_a_repository_path_that_is_a_symlink(tmp_path, repos_root, workspace):
    elsewhere = tmp_path / "elsewhere.git"
    git("init", "--quiet", "--bare", "--", str(elsewhere))
    (repos_root / "payments").mkdir(parents=True)
    (repos_root / "payments" / "checkout.git").symlink_to(elsewhere)

    with pytest.raises(PublishError, match="symbolic link"):
        publish(repos_root, workspace)

    assert git("--git-dir", str(elsewhere), "for-each-ref") == ""


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda ws: (ws / "passwd").symlink_to("/etc/passwd"), id="symlink-to-etc-passwd"),
        pytest.param(lambda ws: (ws / "copy.yaml").symlink_to(ws / "catalog-info.yaml"), id="symlink-to-sibling"),
        pytest.param(lambda ws: (ws / "src" / "up").symlink_to(ws.parent), id="symlinked-directory"),
        pytest.param(lambda ws: (ws / "dangling").symlink_to(ws / "nowhere"), id="dangling-symlink"),
        pytest.param(lambda ws: os.link(ws / "run.sh", ws / "hardlink.sh"), id="hard-link"),
        pytest.param(lambda ws: os.mkfifo(ws / "fifo"), id="fifo"),
        pytest.param(lambda ws: (ws / ".git" / "hooks").mkdir(parents=True), id="git-directory"),
        pytest.param(lambda ws: (ws / "src" / ".git").write_text("gitdir: /etc\n"), id="nested-git-file"),
        pytest.param(lambda ws: (ws / "src" / ".GIT").mkdir(), id="git-directory-other-case"),
    ],
)
def test_publish_local_refuses_a_workspace_with_links_special_files_or_git_entries(repos_root, workspace, plant):
    plant(workspace)

    with pytest.raises(PublishError) as raised:
        publish(repos_root, workspace)

    assert raised.value.code == "workspace"
    assert not (repos_root / "payments" / "checkout.git").exists()


def test_publish_local_refuses_a_workspace_that_is_a_symlink(tmp_path, repos_root, workspace):
    link = tmp_path / "link"
    link.symlink_to(workspace)

    with pytest.raises(PublishError, match="not a directory"):
        publish(repos_root, link)


def test_publish_local_refuses_an_oversized_workspace(repos_root, workspace):
    (workspace / "big.bin").write_bytes(b"\0" * 4096)

    with pytest.raises(PublishError, match="larger than 4000 bytes") as raised:
        publish(repos_root, workspace, max_bytes=4000)

    assert raised.value.code == "workspace"
    assert not (repos_root / "payments" / "checkout.git").exists()


def test_publish_local_refuses_a_workspace_with_too_many_files(repos_root, workspace):
    for index in range(5):
        (workspace / f"file-{index}.txt").write_text("x")

    with pytest.raises(PublishError, match="more than 5 files"):
        publish(repos_root, workspace, max_files=5)


def test_publish_local_refuses_an_empty_workspace(tmp_path, repos_root):
    empty = tmp_path / "empty"
    (empty / "only-directories").mkdir(parents=True)

    with pytest.raises(PublishError, match="no files"):
        publish(repos_root, empty)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"author_name": "Ann <root@example.com>"}, "author name"),
        ({"author_name": "Ann\nLee"}, "author name"),
        ({"author_email": "ann"}, "not an address"),
        ({"author_email": ""}, "author email"),
        ({"idempotency_key": "run\nPaved-Run: other"}, "idempotency key"),
        ({"idempotency_key": "-run"}, "idempotency key"),
        ({"default_branch": "--orphan"}, "branch name"),
        ({"default_branch": "main..x"}, "branch name"),
        ({"default_branch": "main.lock"}, "branch name"),
        ({"message": "nul\0byte"}, "NUL"),
    ],
)
def test_publish_local_refuses_bad_identities_keys_branches_and_messages(repos_root, workspace, overrides, reason):
    with pytest.raises(PublishError, match=reason) as raised:
        publish(repos_root, workspace, **overrides)

    assert raised.value.code == "invalid"


def _publish_in_child(barrier, results, arguments) -> None:
    barrier.wait(timeout=30)
    try:
        result = publish_local(**arguments)
    except PublishError as exc:
        results.put(("error", exc.code, arguments["idempotency_key"]))
    else:
        results.put(("created" if result.created else "found", result.commit_hash, arguments["idempotency_key"]))


@pytest.mark.parametrize("same_key", [False, True], ids=["different-keys", "same-key"])
def test_two_processes_publishing_one_repository_make_exactly_one(repos_root, workspace, same_key):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    base = {
        "repos_root": repos_root,
        "owner": "payments",
        "repo": "checkout",
        "workspace": workspace,
        "author_name": "Ann Lee",
        "author_email": "ann.lee@example.com",
        "message": "Create checkout",
    }
    processes = [
        context.Process(
            target=_publish_in_child,
            args=(barrier, results, {**base, "idempotency_key": "run-a" if same_key else f"run-{name}"}),
        )
        for name in ("a", "b")
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    repository = str(repos_root / "payments" / "checkout.git")
    [(_, commit, winner)] = [outcome for outcome in outcomes if outcome[0] == "created"]
    [(other_status, other_value, _)] = [outcome for outcome in outcomes if outcome[0] != "created"]
    if same_key:
        assert (other_status, other_value) == ("found", commit)
    else:
        assert (other_status, other_value) == ("error", "exists")
    assert git("--git-dir", repository, "rev-list", "--all").splitlines() == [commit]
    assert f"Paved-Run: {winner}" in git("--git-dir", repository, "log", "-1", "--format=%B", "main")
    assert [path.name for path in (repos_root / "payments").iterdir() if path.is_dir()] == ["checkout.git"]


def test_catalog_git_reader_reads_catalog_info_from_a_published_repository(settings, tmp_path, workspace):
    from catalog.locations import GitReader

    settings.VAR_DIR = tmp_path / "var"
    settings.PAVED_CATALOG_FILE_ROOTS = []
    repos_root = settings.VAR_DIR / "repos"
    result = publish(repos_root, workspace)
    reader = GitReader()

    [source] = reader.expand(catalog_location_target(repos_root, "payments", "checkout"))
    [from_contents_url] = GitReader().expand(result.repo_contents_url + "/catalog-info.yaml")

    assert source == from_contents_url == f"{result.remote_url}#main:catalog-info.yaml"
    assert reader.read(source) == (workspace / "catalog-info.yaml").read_bytes()
    [entity] = reader.parse(source, reader.read(source)).entities
    assert entity.ref == "component:default/checkout"


def test_catalog_location_target_names_a_file_of_a_local_repository(repos_root):
    target = catalog_location_target(repos_root, "payments", "checkout", "/docs/catalog-info.yaml", ref="trunk")

    assert target == f"{repos_root.resolve()}/payments/checkout.git#trunk:docs/catalog-info.yaml"


@pytest.mark.parametrize("path", ["../x.yaml", "a/../../x.yaml", "", "-x", "a b.yaml", "a//b.yaml", "./x.yaml"])
def test_catalog_location_target_refuses_paths_outside_the_repository(repos_root, path):
    with pytest.raises(PublishError, match="must name a file inside the repository"):
        catalog_location_target(repos_root, "payments", "checkout", path)
