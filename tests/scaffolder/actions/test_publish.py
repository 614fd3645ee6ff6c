"""publish:git: the workspace becomes a repository on the embedded host that `git clone` reads, once per step."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scaffolder.actions import ActionContext, ActionError, ActionSettings, action_get


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "app" / "src").mkdir(parents=True)
    (root / "app" / "catalog-info.yaml").write_text("metadata:\n  name: checkout\n")
    (root / "app" / "src" / "main.py").write_text("print('checkout')\n")
    (root / "notes.txt").write_text("not published with sourcePath app\n")
    return root


def make_ctx(tmp_path: Path, workspace: Path, action_input: dict, *, dry_run=False, step_id="publish"):
    lines: list[str] = []
    return ActionContext(
        run_id="3f1c2a9e-run",
        step_id=step_id,
        workspace=workspace,
        input=action_input,
        template_dir=None,
        user_ref="user:default/ada",
        user_name="Ada Lovelace",
        user_email="ada@example.com",
        dry_run=dry_run,
        log=lines.append,
        settings=ActionSettings(repos_root=tmp_path / "repos"),
    )


def test_publish_git_creates_a_repository_that_clones_with_the_requester_as_author(tmp_path, workspace):
    ctx = make_ctx(
        tmp_path,
        workspace,
        {"repoUrl": "local?owner=payments&repo=checkout", "sourcePath": "app", "gitCommitMessage": "Create checkout"},
    )

    output = action_get("publish:git").run(ctx)

    repository = tmp_path / "repos" / "payments" / "checkout.git"
    assert output["remoteUrl"] == str(repository.resolve())
    assert output["repoContentsUrl"] == f"{repository.resolve()}#main:"
    clone = tmp_path / "clone"
    git("clone", "--quiet", output["remoteUrl"], str(clone))
    assert (clone / "catalog-info.yaml").read_text() == "metadata:\n  name: checkout\n"
    assert (clone / "src" / "main.py").is_file()
    assert not (clone / "notes.txt").exists()
    assert git("rev-parse", "HEAD", cwd=clone) == output["commitHash"]
    assert git("log", "-1", "--format=%an <%ae>|%s", cwd=clone) == "Ada Lovelace <ada@example.com>|Create checkout"


def test_publish_git_retried_returns_the_same_commit(tmp_path, workspace):
    action_input = {"repoUrl": "local?owner=payments&repo=checkout"}
    first = action_get("publish:git").run(make_ctx(tmp_path, workspace, action_input))
    (workspace / "later.txt").write_text("changed after the crash\n")

    second = action_get("publish:git").run(make_ctx(tmp_path, workspace, action_input))

    assert second == first


def test_publish_git_refuses_a_repository_another_step_created(tmp_path, workspace):
    action_input = {"repoUrl": "local?owner=payments&repo=checkout"}
    action_get("publish:git").run(make_ctx(tmp_path, workspace, action_input))

    with pytest.raises(ActionError) as caught:
        action_get("publish:git").run(make_ctx(tmp_path, workspace, action_input, step_id="publish-again"))

    assert caught.value.code == "publish_exists"
    assert "already exists" in caught.value.message


def test_publish_git_uses_the_default_branch(tmp_path, workspace):
    ctx = make_ctx(tmp_path, workspace, {"repoUrl": "local?owner=payments&repo=checkout", "defaultBranch": "trunk"})

    output = action_get("publish:git").run(ctx)

    assert output["repoContentsUrl"].endswith("#trunk:")
    assert git("--git-dir", output["remoteUrl"], "symbolic-ref", "HEAD") == "refs/heads/trunk"


def test_publish_git_in_a_dry_run_publishes_nothing(tmp_path, workspace):
    ctx = make_ctx(tmp_path, workspace, {"repoUrl": "local?owner=payments&repo=checkout"}, dry_run=True)

    output = action_get("publish:git").run(ctx)

    assert output["commitHash"] == "0" * 40
    assert output["remoteUrl"].endswith("payments/checkout.git")
    assert not (tmp_path / "repos").exists()


@pytest.mark.parametrize("repo_url", ["github.com?owner=a&repo=b", "local?owner=../x&repo=b", "local?owner=a"])
def test_publish_git_refuses_a_bad_repo_url(tmp_path, workspace, repo_url):
    with pytest.raises(ActionError) as caught:
        action_get("publish:git").run(make_ctx(tmp_path, workspace, {"repoUrl": repo_url}))

    assert caught.value.code == "publish_invalid"


def test_publish_git_refuses_a_source_path_outside_the_workspace(tmp_path, workspace):
    ctx = make_ctx(tmp_path, workspace, {"repoUrl": "local?owner=payments&repo=checkout", "sourcePath": "../"})

    with pytest.raises(ActionError) as caught:
        action_get("publish:git").run(ctx)

    assert caught.value.code == "unsafe"


def test_publish_git_refuses_a_workspace_with_a_symlink(tmp_path, workspace):
    (workspace / "app" / "link").symlink_to("/etc/passwd")
    ctx = make_ctx(tmp_path, workspace, {"repoUrl": "local?owner=payments&repo=checkout"})

    with pytest.raises(ActionError) as caught:
        action_get("publish:git").run(ctx)

    assert caught.value.code == "publish_workspace"
    assert "symbolic links" in caught.value.message


def test_fetch_template_then_publish_git_publishes_the_answers_file(tmp_path, workspace):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "README.md").write_text("# ${{ values.name }}\n")
    fetch = make_ctx(tmp_path, workspace, {"url": "./skeleton", "targetPath": "svc", "values": {"name": "checkout"}})
    fetch = ActionContext(**{**fetch.__dict__, "template_dir": tmp_path / "template"})
    action_get("fetch:template").run(fetch)

    output = action_get("publish:git").run(
        make_ctx(tmp_path, workspace, {"repoUrl": "local?owner=payments&repo=checkout", "sourcePath": "svc"})
    )

    clone = tmp_path / "clone"
    git("clone", "--quiet", output["remoteUrl"], str(clone))
    assert (clone / "README.md").read_text() == "# checkout\n"
    assert "name: checkout" in (clone / ".copier-answers.yml").read_text()
