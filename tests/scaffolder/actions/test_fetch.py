"""fetch:template renders Backstage skeletons through Copier; fetch:plain copies; debug:log logs. What they refuse."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from scaffolder.actions import ActionContext, ActionError, ActionSettings, action_get


def make_ctx(tmp_path: Path, template_dir: Path | None, action_input: dict, **settings) -> ActionContext:
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    lines: list[str] = []
    return ActionContext(
        run_id="run-1",
        step_id="fetch",
        workspace=workspace,
        input=action_input,
        template_dir=template_dir,
        user_ref="user:default/ada",
        user_name="Ada Lovelace",
        user_email="ada@example.com",
        dry_run=False,
        log=lines.append,
        settings=ActionSettings(repos_root=tmp_path / "repos", **settings),
    )


def files_of(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    root = tmp_path / "template"
    skeleton = root / "skeleton"
    (skeleton / "src" / "${{ values.name }}").mkdir(parents=True)
    (skeleton / ".github" / "workflows").mkdir(parents=True)
    (skeleton / "README.md").write_text(
        "# ${{ values.name }}\n\nOwned by ${{ values.owner }}.\n{% if values.database %}Uses a database.\n{% endif %}"
    )
    (skeleton / "src" / "${{ values.name }}" / "__init__.py").write_text('NAME = "${{ values.name }}"\n')
    (skeleton / ".github" / "workflows" / "ci.yaml").write_text("run: echo ${{ github.sha }}\n")
    (skeleton / "catalog-info.yaml").write_text("metadata:\n  name: ${{ values.name | lower }}\n")
    return root


def fetch_template(tmp_path: Path, template_dir: Path | None, **action_input):
    action_input.setdefault("copyWithoutTemplating", [".github/workflows/*"])
    ctx = make_ctx(tmp_path, template_dir, {"url": "./skeleton", **action_input})
    output = action_get("fetch:template").run(ctx)
    return ctx, output


def test_fetch_template_renders_names_contents_and_blocks(tmp_path, template_dir):
    ctx, output = fetch_template(
        tmp_path,
        template_dir,
        values={"name": "checkout", "owner": "group:payments", "database": True},
        copyWithoutTemplating=[".github/workflows/*"],
    )

    rendered = files_of(ctx.workspace)
    assert rendered["README.md"] == "# checkout\n\nOwned by group:payments.\nUses a database.\n"
    assert rendered["src/checkout/__init__.py"] == 'NAME = "checkout"\n'
    assert rendered[".github/workflows/ci.yaml"] == "run: echo ${{ github.sha }}\n"
    assert rendered["catalog-info.yaml"] == "metadata:\n  name: checkout\n"
    assert sorted(output["files"]) == sorted(rendered)
    assert output["targetPath"] == "."


def test_fetch_template_leaves_out_a_false_if_block(tmp_path, template_dir):
    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout", "owner": "x", "database": False})

    assert "database" not in (ctx.workspace / "README.md").read_text()


def test_fetch_template_writes_copiers_answers_file_with_the_values_and_source(tmp_path, template_dir):
    values = {"name": "checkout", "owner": "group:payments", "database": True}
    ctx, output = fetch_template(tmp_path, template_dir, values=values)

    answers = yaml.safe_load((ctx.workspace / ".copier-answers.yml").read_text())
    assert answers == {"_src_path": str(template_dir.resolve()), "values": values}
    assert output["answersFile"] == ".copier-answers.yml"
    assert output["answers"] == answers


def test_fetch_template_records_the_tag_of_a_git_template(tmp_path, template_dir):
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "template"],
        ["tag", "v1.2.0"],
    ):
        subprocess.run(["git", "-C", str(template_dir), *args], check=True, env=env, capture_output=True)

    ctx, output = fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert output["answers"]["_commit"] == "v1.2.0"
    assert "_commit: v1.2.0" in (ctx.workspace / ".copier-answers.yml").read_text()
    assert not (ctx.workspace / ".git").exists()


def test_fetch_template_with_template_file_extension_renders_only_njk_files(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "app.py.njk").write_text("NAME = '${{ values.name }}'\n")
    (skeleton / "ci.yaml").write_text("run: ${{ github.sha }}\n")

    ctx, _ = fetch_template(tmp_path, tmp_path / "template", values={"name": "checkout"}, templateFileExtension=True)

    rendered = files_of(ctx.workspace)
    assert rendered["app.py"] == "NAME = 'checkout'\n"
    assert rendered["ci.yaml"] == "run: ${{ github.sha }}\n"
    assert "app.py.njk" not in rendered


def test_fetch_template_accepts_a_custom_template_file_extension(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "app.py.jinja").write_text("NAME = '${{ values.name }}'\n")
    (skeleton / "plain.txt").write_text("${{ values.name }}\n")

    ctx, _ = fetch_template(tmp_path, tmp_path / "template", values={"name": "a"}, templateFileExtension="jinja")

    assert files_of(ctx.workspace)["app.py"] == "NAME = 'a'\n"
    assert files_of(ctx.workspace)["plain.txt"] == "${{ values.name }}\n"


@pytest.mark.parametrize("hostile", ["{{ 7*7 }}", "${{ secrets.x }}", "{% for x in range(3) %}x{% endfor %}"])
def test_fetch_template_keeps_values_literal(tmp_path, template_dir, hostile):
    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout", "owner": hostile})

    assert f"Owned by {hostile}." in (ctx.workspace / "README.md").read_text()


def test_fetch_template_keeps_a_template_looking_name_literal(tmp_path, template_dir):
    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "${{ 7*7 }}", "owner": "x"})

    assert (ctx.workspace / "src" / "${{ 7*7 }}" / "__init__.py").is_file()
    assert not (ctx.workspace / "src" / "49").exists()


def test_fetch_template_refuses_a_name_escaping_the_target(tmp_path, template_dir):
    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "../../../x", "owner": "x"}, targetPath="app")

    assert caught.value.code == "unsafe"
    assert not (tmp_path / "x").exists()
    assert list((tmp_path / "workspace").iterdir()) == []


def test_fetch_template_refuses_a_name_rendering_to_an_absolute_path(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "${{ values.path }}").write_text("x")

    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, tmp_path / "template", values={"path": str(tmp_path / "outside")})

    assert caught.value.code == "unsafe"
    assert not (tmp_path / "outside").exists()


def test_fetch_template_refuses_a_symlink_in_the_skeleton(tmp_path, template_dir):
    (template_dir / "skeleton" / "passwd").symlink_to("/etc/passwd")

    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert caught.value.code == "unsafe"
    assert "passwd is a symbolic link" in caught.value.message


@pytest.mark.parametrize("key", ["_tasks", "_migrations", "_jinja_extensions"])
@pytest.mark.parametrize("name", ["copier.yml", "copier.yaml"])
def test_fetch_template_refuses_a_copier_config_with_code(tmp_path, template_dir, key, name):
    (template_dir / "skeleton" / name).write_text(f"{key}:\n  - touch /tmp/pwned\n")

    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert caught.value.code == "unsafe"
    assert f"{name} declares {key}" in caught.value.message


@pytest.mark.parametrize("target", ["../outside", "/tmp/outside", "a/../../outside"])
def test_fetch_template_refuses_a_target_path_escaping_the_workspace(tmp_path, template_dir, target):
    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "checkout"}, targetPath=target)

    assert caught.value.code == "unsafe"
    assert "targetPath" in caught.value.message


def test_fetch_template_refuses_a_target_path_through_a_workspace_symlink(tmp_path, template_dir):
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "link").symlink_to(tmp_path)

    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "checkout"}, targetPath="link/app")

    assert caught.value.code == "unsafe"


def test_fetch_template_renders_into_the_target_path(tmp_path, template_dir):
    ctx, output = fetch_template(tmp_path, template_dir, values={"name": "checkout"}, targetPath="./services/app")

    assert (ctx.workspace / "services" / "app" / "src" / "checkout" / "__init__.py").is_file()
    assert output["answersFile"] == "services/app/.copier-answers.yml"
    assert output["targetPath"] == "services/app"


def test_fetch_template_refuses_a_skeleton_over_the_byte_limit(tmp_path, template_dir):
    (template_dir / "skeleton" / "big.bin").write_bytes(b"x" * 2000)
    ctx = make_ctx(tmp_path, template_dir, {"url": "./skeleton", "values": {"name": "a"}}, max_bytes=1000)

    with pytest.raises(ActionError) as caught:
        action_get("fetch:template").run(ctx)

    assert caught.value.code == "size"
    assert "larger than 1000 bytes" in caught.value.message


def test_fetch_template_refuses_output_that_grows_over_the_byte_limit(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "big.txt").write_text("{% for i in range(100) %}${{ values.line }}{% endfor %}")
    ctx = make_ctx(
        tmp_path, tmp_path / "template", {"url": "./skeleton", "values": {"line": "y" * 100}}, max_bytes=5000
    )

    with pytest.raises(ActionError) as caught:
        action_get("fetch:template").run(ctx)

    assert caught.value.code == "size"
    assert list(ctx.workspace.iterdir()) == []


def test_fetch_template_refuses_too_many_files(tmp_path, template_dir):
    ctx = make_ctx(tmp_path, template_dir, {"url": "./skeleton", "values": {"name": "a"}}, max_files=2)

    with pytest.raises(ActionError) as caught:
        action_get("fetch:template").run(ctx)

    assert caught.value.code == "size"
    assert "more than 2 files" in caught.value.message


def test_fetch_template_reports_a_syntax_error_with_the_file(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "broken.txt").write_text("{% if values.x %}never closed\n")

    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, tmp_path / "template", values={})

    assert caught.value.code == "template"
    assert "broken.txt" in caught.value.message


def test_fetch_template_refuses_a_url_outside_the_template(tmp_path, template_dir):
    with pytest.raises(ActionError) as caught:
        action_get("fetch:template").run(make_ctx(tmp_path, template_dir, {"url": "../../etc"}))

    assert caught.value.code == "unsafe"


def test_fetch_template_keeps_existing_files_unless_replace(tmp_path, template_dir):
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "README.md").write_text("mine\n")

    ctx, output = fetch_template(tmp_path, template_dir, values={"name": "a"})
    assert (ctx.workspace / "README.md").read_text() == "mine\n"
    assert "README.md" not in output["files"]

    ctx, output = fetch_template(tmp_path, template_dir, values={"name": "a"}, replace=True)
    assert (ctx.workspace / "README.md").read_text().startswith("# a")


def test_fetch_plain_copies_without_templating(tmp_path, template_dir):
    ctx = make_ctx(tmp_path, template_dir, {"url": "./skeleton", "targetPath": "copy"})

    output = action_get("fetch:plain").run(ctx)

    copied = files_of(ctx.workspace / "copy")
    assert copied["README.md"].startswith("# ${{ values.name }}")
    assert "src/${{ values.name }}/__init__.py" in copied
    assert "copy/README.md" in output["files"]
    assert output["targetPath"] == "copy"


def test_fetch_plain_refuses_a_symlink(tmp_path, template_dir):
    (template_dir / "skeleton" / "src" / "link").symlink_to(template_dir)

    with pytest.raises(ActionError) as caught:
        action_get("fetch:plain").run(make_ctx(tmp_path, template_dir, {"url": "./skeleton"}))

    assert caught.value.code == "unsafe"


def test_fetch_plain_refuses_a_target_path_escape(tmp_path, template_dir):
    with pytest.raises(ActionError):
        action_get("fetch:plain").run(make_ctx(tmp_path, template_dir, {"url": "./skeleton", "targetPath": "../x"}))


def test_fetch_needs_the_template_files(tmp_path):
    with pytest.raises(ActionError) as caught:
        action_get("fetch:plain").run(make_ctx(tmp_path, None, {"url": "./skeleton"}))

    assert caught.value.code == "template"


def test_debug_log_logs_the_message_and_lists_the_workspace(tmp_path):
    lines: list[str] = []
    ctx = make_ctx(tmp_path, None, {"message": "hello", "listWorkspace": True})
    (ctx.workspace / "a.txt").write_text("a")
    ctx = ActionContext(**{**ctx.__dict__, "log": lines.append})

    assert action_get("debug:log").run(ctx) == {}

    assert lines[0] == "hello"
    assert any(line.strip() == "a.txt" for line in lines)


def test_fetch_template_renders_an_undefined_value_as_nothing_like_backstage(tmp_path, template_dir):
    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert (ctx.workspace / "README.md").read_text() == "# checkout\n\nOwned by .\n"


def test_fetch_template_names_the_file_where_an_undefined_object_is_used(tmp_path, template_dir):
    with pytest.raises(ActionError) as caught:
        fetch_template(tmp_path, template_dir, values={"name": "checkout"}, copyWithoutTemplating=[])

    assert caught.value.code == "template"
    assert ".github/workflows/ci.yaml, line 1: 'github' is undefined" in caught.value.message


def test_fetch_template_ignores_the_hosts_copier_settings(tmp_path, template_dir, monkeypatch):
    settings = tmp_path / "copier-settings.yml"
    settings.write_text("defaults:\n  values: {name: from-settings}\ntrust: ['/']\n: not yaml [\n")
    monkeypatch.setenv("COPIER_SETTINGS_PATH", str(settings))

    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert (ctx.workspace / "src" / "checkout" / "__init__.py").is_file()


def test_fetch_template_treats_a_harmless_copier_config_as_an_ordinary_file(tmp_path, template_dir):
    (template_dir / "skeleton" / "copier.yml").write_text("project: ${{ values.name }}\n")

    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout"})

    assert (ctx.workspace / "copier.yml").read_text() == "project: checkout\n"


@pytest.mark.parametrize("pattern", [".github", ".github/**", "**/*.yaml", "./.github/workflows/ci.yaml"])
def test_fetch_template_copy_without_templating_globs(tmp_path, template_dir, pattern):
    ctx, _ = fetch_template(tmp_path, template_dir, values={"name": "checkout"}, copyWithoutTemplating=[pattern])

    assert (ctx.workspace / ".github" / "workflows" / "ci.yaml").read_text() == "run: echo ${{ github.sha }}\n"
    assert (ctx.workspace / "README.md").read_text().startswith("# checkout")


def test_fetch_template_renders_the_names_of_files_copied_without_templating(tmp_path):
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "${{ values.name }}.sql").write_text("SELECT '${{ values.name }}';\n")

    ctx, _ = fetch_template(tmp_path, tmp_path / "template", values={"name": "orders"}, copyWithoutTemplating=["*.sql"])

    assert (ctx.workspace / "orders.sql").read_text() == "SELECT '${{ values.name }}';\n"


def test_fetch_template_starts_no_git_process_per_rendered_file(tmp_path, monkeypatch):
    """Copier's git integration is off: rendering never asks git about the folders around the staging folder."""
    import copier._main

    calls: list[object] = []
    monkeypatch.setattr(copier._main, "get_git", lambda *args, **kwargs: calls.append(args) or None)
    skeleton = tmp_path / "template" / "skeleton"
    (skeleton / "bin").mkdir(parents=True)
    for n in range(5):
        (skeleton / f"file{n}.txt").write_text("${{ values.name }}\n")
    (skeleton / "bin" / "run").write_text("#!/bin/sh\necho ${{ values.name }}\n")
    (skeleton / "bin" / "run").chmod(0o755)
    ctx = make_ctx(tmp_path, tmp_path / "template", {"url": "./skeleton", "values": {"name": "svc"}})

    action_get("fetch:template").run(ctx)

    assert calls == []
    assert (ctx.workspace / "file4.txt").read_text() == "svc\n"
    assert (ctx.workspace / "bin" / "run").stat().st_mode & 0o111
