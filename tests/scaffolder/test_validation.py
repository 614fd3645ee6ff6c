"""Templates refused at registration: each refusal through a real registration of a file location or of a local git
repository, with the message the owner reads on the location page and in the dry run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import reverse

from catalog import services
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from scaffolder.actions import action_list
from scaffolder.validation import template_check

SKELETON = {"skeleton/README.md": "# ${{ values.name }}\n", "skeleton/catalog-info.yaml": "kind: Component\n"}


def steps(**fetch_input: Any) -> list[dict[str, Any]]:
    return [
        {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton", **fetch_input}},
        {"id": "publish", "action": "publish:git", "input": {"repoUrl": "${{ parameters.repoUrl }}"}},
    ]


def template(spec: dict[str, Any] | None = None, **changes: Any) -> str:
    body: dict[str, Any] = {"type": "service", "owner": "group:platform", "steps": steps(), **changes}
    if spec is not None:
        body = spec
    return yaml.safe_dump(
        {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": {"name": "svc"},
            "spec": body,
        },
        sort_keys=False,
    )


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


@pytest.fixture
def roots(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path / "files")]
    settings.VAR_DIR = tmp_path / "var"
    (tmp_path / "files").mkdir()
    (tmp_path / "var" / "repos").mkdir(parents=True)
    return tmp_path


def register(type_: str, target: str, capture) -> Location:
    with capture(execute=True):
        location = services.location_create(type=type_, target=target, trusted=True, actor=SYSTEM)
    location.refresh_from_db()
    return location


def messages(location: Location) -> list[str]:
    return [f"{error['path']}: {error['message']}" for error in location.errors]


# --- file locations ---------------------------------------------------------------------------------------------


@pytest.fixture
def file_template(db, roots, django_capture_on_commit_callbacks):
    """`make(files, text)`: a template folder under the file roots, registered as a trusted file location."""

    def make(files: dict[str, str] | None = None, text: str | None = None, *, link: tuple[str, str] | None = None):
        folder = roots / "files" / "svc"
        write(folder, {**SKELETON, **(files or {}), "template.yaml": text or template()})
        if link is not None:
            (folder / link[0]).symlink_to(link[1])
        return register("file", str(folder / "template.yaml"), django_capture_on_commit_callbacks), folder

    return make


def test_a_sound_template_is_registered(file_template):
    location, _ = file_template()

    assert location.errors == []
    assert Entity.objects.filter(kind="Template", name="svc").exists()


def test_a_symlink_in_the_skeleton_is_refused(file_template):
    location, folder = file_template(link=("skeleton/secrets", "/etc/passwd"))

    assert not Entity.objects.filter(kind="Template").exists()
    [error] = location.errors
    assert error["entityRef"] == "template:default/svc"
    assert error["path"] == "spec.steps[0].input.url"
    assert error["message"] == (
        f"{folder}/template.yaml, document 0 (template:default/svc): spec.steps[0].input.url: {folder}: "
        "skeleton/secrets is a symbolic link; templates may hold only regular files and folders"
    )


def test_a_symlink_anywhere_in_the_template_folder_is_refused(file_template):
    location, folder = file_template(link=("docs", "/etc"))

    assert messages(location) == [
        f": {folder}/template.yaml, document 0 (template:default/svc): {folder}: docs is a symbolic link; "
        "templates may hold only regular files and folders"
    ]


def test_a_special_file_is_refused(file_template, roots):
    folder = roots / "files" / "svc"
    (folder / "skeleton").mkdir(parents=True)
    os.mkfifo(folder / "skeleton" / "pipe")

    location, _ = file_template()

    assert any("skeleton/pipe is a special file (device, pipe or socket)" in m for m in messages(location))


@pytest.mark.parametrize(
    ("config", "declared"),
    [
        ({"_tasks": ["rm -rf ~"]}, "_tasks"),
        ({"_jinja_extensions": ["evil.Extension"]}, "_jinja_extensions"),
        ({"_migrations": [{"version": "v2", "command": "curl x | sh"}]}, "_migrations"),
        ({"_external_data": {"x": "/etc/passwd"}}, "_external_data"),
        ({"_tasks": ["a"], "_jinja_extensions": ["b"], "name": {"type": "str"}}, "_tasks, _jinja_extensions"),
    ],
)
def test_a_skeleton_copier_file_with_code_is_refused(file_template, config, declared):
    location, folder = file_template({"skeleton/copier.yml": yaml.safe_dump(config)})

    assert not Entity.objects.filter(kind="Template").exists()
    assert messages(location) == [
        f"spec.steps[0].input.url: {folder}/template.yaml, document 0 (template:default/svc): "
        f"spec.steps[0].input.url: {folder}: skeleton/copier.yml declares {declared}; Paved never runs a template's "
        "own Copier tasks, Jinja extensions, migrations or external data"
    ]


def test_a_copier_file_at_the_template_root_is_checked_too(file_template):
    location, _ = file_template({"copier.yaml": "_jinja_extensions: [jinja2_time.TimeExtension]\n"})

    [message] = messages(location)
    assert message.startswith(": ")
    assert message.endswith(
        "copier.yaml declares _jinja_extensions; Paved never runs a template's own Copier tasks, "
        "Jinja extensions, migrations or external data"
    )


def test_an_ordinary_copier_file_is_an_ordinary_file(file_template):
    location, _ = file_template({"skeleton/copier.yml": "project_name:\n  type: str\n"})

    assert location.errors == []


def test_a_copier_file_that_is_not_yaml_is_refused(file_template):
    location, _ = file_template({"skeleton/copier.yml": "_tasks: [unclosed\n"})

    [message] = messages(location)
    assert "skeleton/copier.yml is not valid YAML" in message


def test_an_expression_url_makes_every_copier_file_count(file_template):
    text = template(steps=[{"id": "f", "action": "fetch:template", "input": {"url": "${{ parameters.flavour }}"}}])

    location, _ = file_template({"flavours/go/copier.yml": "_tasks: [make]\n"}, text)

    [message] = messages(location)
    assert message.startswith("spec.steps[0].input.url: ")
    assert "flavours/go/copier.yml declares _tasks" in message


@pytest.mark.parametrize(
    ("fetch_input", "path", "problem"),
    [
        (
            {"url": "../other"},
            "spec.steps[0].input.url",
            "\"../other\" leads out of the template's folder with '..'; it must be a path inside it, such as "
            "./skeleton",
        ),
        (
            {"url": "./skeleton/../../other"},
            "spec.steps[0].input.url",
            "\"./skeleton/../../other\" leads out of the template's folder with '..'",
        ),
        (
            {"url": "/srv/skeleton"},
            "spec.steps[0].input.url",
            '"/srv/skeleton" is an absolute path; it must be a path relative to the template\'s folder',
        ),
        (
            {"url": "https://github.com/acme/skeleton"},
            "spec.steps[0].input.url",
            '"https://github.com/acme/skeleton" is a URL; Paved reads skeletons only from the template\'s own folder',
        ),
        (
            {"targetPath": "/etc"},
            "spec.steps[0].input.targetPath",
            '"/etc" is an absolute path; it must be a path relative to the run\'s workspace, such as ./service',
        ),
        (
            {"targetPath": "~/.ssh"},
            "spec.steps[0].input.targetPath",
            '"~/.ssh" is an absolute path',
        ),
        (
            {"targetPath": "service/../../escape"},
            "spec.steps[0].input.targetPath",
            "\"service/../../escape\" leads out of the run's workspace with '..'",
        ),
        (
            {"targetPath": "C:\\Windows"},
            "spec.steps[0].input.targetPath",
            '"C:\\\\Windows" is an absolute path',
        ),
        (
            {"url": "./missing"},
            "spec.steps[0].input.url",
            'the template has no folder at "missing" beside template.yaml',
        ),
        (
            {"url": "./skeleton/README.md"},
            "spec.steps[0].input.url",
            'the template has a file, not a folder, at "skeleton/README.md" beside template.yaml',
        ),
    ],
)
def test_step_paths_that_leave_their_folder_are_refused(file_template, fetch_input, path, problem):
    location, _ = file_template(text=template(steps=steps(**fetch_input)))

    assert not Entity.objects.filter(kind="Template").exists()
    [error] = location.errors
    assert error["path"] == path
    assert f"(template:default/svc): {path}: " in error["message"]
    assert problem in error["message"]


def test_expressions_in_step_paths_are_left_to_the_run(file_template):
    location, _ = file_template(text=template(steps=steps(targetPath="${{ parameters.dir }}/../x")))

    assert location.errors == []


def test_an_unknown_action_is_refused_naming_the_known_ones(file_template):
    text = template(steps=[*steps(), {"id": "send", "action": "notification:send", "input": {}}])

    location, folder = file_template(text=text)

    known = ", ".join(action.id for action in action_list())
    assert "catalog:register, catalog:write, debug:log, fetch:plain, fetch:template, publish:git" in known
    assert messages(location) == [
        f"spec.steps[2].action: {folder}/template.yaml, document 0 (template:default/svc): spec.steps[2].action: "
        f'unknown action "notification:send"; known: {known}'
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"owner": "group:platform", "type": "service"},
            ["spec.steps: expected a value (the field is required), found nothing"],
        ),
        (
            {"owner": "group:platform", "steps": steps()},
            ["spec.type: expected a value (the field is required), found nothing"],
        ),
        ({"type": "service", "steps": []}, ["spec.steps: expected a list of at least 1 item, found []"]),
        (
            {"type": "service", "steps": [{"id": "a", "action": "debug:log"}, {"id": "a", "action": "debug:log"}]},
            ["spec.steps[1].id: step id 'a' is already used by steps[0]; step ids must be unique"],
        ),
        (
            {"type": "service", "steps": [{"id": "a", "action": ""}, {"name": "no action"}]},
            [
                'spec.steps[0].action: expected a non-empty string, found ""',
                "spec.steps[1].action: expected a value (the field is required), found nothing",
            ],
        ),
    ],
)
def test_a_template_without_type_or_steps_is_refused(file_template, spec, expected):
    location, folder = file_template(text=template(spec))

    assert not Entity.objects.filter(kind="Template").exists()
    prefix = f"{folder}/template.yaml, document 0 (template:default/svc): "
    assert [e["message"] for e in location.errors] == [prefix + text for text in expected]


def test_a_refused_template_keeps_its_last_good_version(file_template, roots):
    location, folder = file_template()
    good = Entity.objects.get(kind="Template", name="svc")
    (folder / "skeleton" / "id_rsa").symlink_to(Path.home() / ".ssh" / "id_rsa")
    write(folder, {"template.yaml": template(type="website")})

    services.location_refresh(location=location)

    kept = Entity.objects.get(kind="Template", name="svc")
    assert kept.pk == good.pk
    assert kept.data["spec"]["type"] == "service"
    assert any("skeleton/id_rsa is a symbolic link" in e["message"] for e in kept.errors)


def test_the_dry_run_answers_with_the_refusal(db, roots, settings):
    folder = roots / "files" / "svc"
    write(folder, {**SKELETON, "skeleton/copier.yml": "_tasks: [x]\n", "template.yaml": template()})
    settings.PAVED_CATALOG_TRUSTED_LOCATIONS = [str(folder / "*")]

    preview = services.location_create(type="file", target=str(folder / "template.yaml"), actor=SYSTEM, dry_run=True)

    assert [e["kind"] for e in preview.entities] == ["Location"]
    [error] = preview.errors
    assert "skeleton/copier.yml declares _tasks" in error["message"]


def test_the_location_page_shows_why_a_template_was_refused(file_template, client_for):
    location, _ = file_template(link=("skeleton/secrets", "/etc/passwd"))

    response = client_for("alice").get(reverse("catalog:location_detail", args=[location.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="location-errors"' in page
    assert "skeleton/secrets is a symbolic link; templates may hold only regular files and folders" in page


def test_the_demo_templates_pass(roots, settings, django_capture_on_commit_callbacks):
    demo = Path(settings.BASE_DIR) / "portal" / "demo" / "templates"
    for name in ("go-service", "python-service"):
        assert template_check(_load(demo / name / "template.yaml"), f"file:{demo / name / 'template.yaml'}") == []


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


# --- git locations ----------------------------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(work: Path, message: str) -> None:
    git("add", "-A", cwd=work)
    git("-c", "user.name=Paved", "-c", "user.email=paved@example.com", "commit", "-qm", message, cwd=work)


@pytest.fixture
def git_template(db, roots, django_capture_on_commit_callbacks):
    """`make(files, text, folder=...)`: a local repository under VAR_DIR/repos holding a template, registered as a
    trusted git location at `main`. Returns the location and the working tree (to commit more to it)."""

    def make(
        files: dict[str, str] | None = None,
        text: str | None = None,
        *,
        folder: str = "",
        link: tuple[str, str] | None = None,
        edit=None,
    ):
        work = roots / "var" / "repos" / "svc"
        base = work / folder if folder else work
        work.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=work)
        write(base, {**SKELETON, **(files or {}), "template.yaml": text or template()})
        if link is not None:
            (work / link[0]).symlink_to(link[1])
        commit(work, "template")
        if edit is not None:
            edit(work)
        path = f"{folder}/template.yaml" if folder else "template.yaml"
        return register("git", f"{work}#main:{path}", django_capture_on_commit_callbacks), work

    return make


def test_a_sound_git_template_is_registered(git_template):
    location, _ = git_template(folder="templates/svc")

    assert location.errors == []
    assert Entity.objects.filter(kind="Template", name="svc").exists()


def test_a_symlink_in_a_git_template_is_refused(git_template):
    location, work = git_template(link=("skeleton/secrets", "/etc/passwd"))

    assert not Entity.objects.filter(kind="Template").exists()
    assert messages(location) == [
        f"spec.steps[0].input.url: {work}#main:template.yaml, document 0 (template:default/svc): "
        f"spec.steps[0].input.url: {work}#main: skeleton/secrets is a symbolic link; templates may hold only regular "
        "files and folders"
    ]


def test_a_submodule_in_a_git_template_is_refused(git_template):
    def add_submodule(work: Path) -> None:
        head = git("rev-parse", "HEAD", cwd=work)
        git("update-index", "--add", "--cacheinfo", f"160000,{head},skeleton/vendor", cwd=work)
        git("-c", "user.name=Paved", "-c", "user.email=paved@example.com", "commit", "-qm", "vendor", cwd=work)

    location, _ = git_template(edit=add_submodule)

    [message] = messages(location)
    assert message.endswith("skeleton/vendor is a git submodule; templates may hold only regular files and folders")


@pytest.mark.parametrize(
    ("config", "declared"),
    [("_tasks:\n  - make install\n", "_tasks"), ("_jinja_extensions:\n  - cookiecutter.Ext\n", "_jinja_extensions")],
)
def test_copier_code_in_a_git_template_is_refused(git_template, config, declared):
    location, work = git_template({"skeleton/copier.yaml": config}, folder="templates/svc")

    assert messages(location) == [
        f"spec.steps[0].input.url: {work}#main:templates/svc/template.yaml, document 0 (template:default/svc): "
        f"spec.steps[0].input.url: {work}#main:templates/svc: skeleton/copier.yaml declares {declared}; Paved never "
        "runs a template's own Copier tasks, Jinja extensions, migrations or external data"
    ]


def test_only_the_template_folder_of_a_repository_counts(git_template):
    # A link elsewhere in the repository is not part of what a run of this template reads.
    location, _ = git_template(folder="templates/svc", link=("docs", "/etc"))

    assert location.errors == []


def test_a_git_template_url_escaping_with_dots_is_refused(git_template):
    location, _ = git_template(text=template(steps=steps(url="../../etc")), folder="templates/svc")

    [error] = location.errors
    assert error["path"] == "spec.steps[0].input.url"
    assert "\"../../etc\" leads out of the template's folder with '..'" in error["message"]


def test_a_git_template_refused_after_a_new_commit_keeps_its_last_good_version(git_template):
    location, work = git_template()
    (work / "skeleton" / "copier.yml").write_text("_tasks: [make]\n")
    commit(work, "tasks")

    services.location_refresh(location=location)

    kept = Entity.objects.get(kind="Template", name="svc")
    assert any("skeleton/copier.yml declares _tasks" in e["message"] for e in kept.errors)
    location.refresh_from_db()
    assert any("skeleton/copier.yml declares _tasks" in m for m in messages(location))


def test_odd_but_harmless_file_names_in_git_are_accepted(git_template):
    location, _ = git_template({"skeleton/with\ttab and\nnewline.txt": "x", "skeleton/..hidden": "y"})

    assert location.errors == []


# --- where the files cannot be read -----------------------------------------------------------------------------


def test_a_template_from_a_url_location_cannot_fetch_its_skeleton():
    entity = yaml.safe_load(template())

    problems = template_check(entity, "url:https://example.com/templates/svc/template.yaml")

    assert [(p.path, p.message) for p in problems] == [
        (
            "spec.steps[0].input.url",
            "the template's files cannot be read: a template read from a url location has no files beside it; "
            "register it from a file location or a local git repository",
        )
    ]


def test_a_template_without_fetch_steps_needs_no_files():
    entity = yaml.safe_load(template(steps=[{"id": "log", "action": "debug:log", "input": {"message": "hi"}}]))

    assert template_check(entity, "url:https://example.com/template.yaml") == []


def test_a_repository_outside_the_roots_is_reported(roots, settings):
    entity = yaml.safe_load(template())

    problems = template_check(entity, f"git:{roots}/elsewhere.git#main:template.yaml")

    [problem] = problems
    assert problem.path == "spec.steps[0].input.url"
    assert "outside the allowed repository roots" in problem.message


def test_a_template_folder_with_too_many_files_is_refused(roots, monkeypatch):
    monkeypatch.setattr("scaffolder.validation.MAX_ENTRIES", 3)
    folder = roots / "files" / "svc"
    write(folder, {**SKELETON, "template.yaml": template()})

    problems = template_check(yaml.safe_load(template()), f"file:{folder}/template.yaml")

    assert [p.message for p in problems] == [
        f"the template's files cannot be read: {folder} holds more than 3 files and folders"
    ]


@pytest.mark.parametrize("entity", [{}, {"spec": None}, {"spec": {"steps": "x"}}, {"spec": {"steps": [None, 3]}}])
def test_malformed_entities_do_not_crash_the_check(entity):
    assert template_check(entity, "file:/nowhere/template.yaml") == []


def test_a_crafted_git_tree_with_a_dot_dot_name_is_refused(git_template):
    # git itself never writes such a tree, but mktree does: a file that would land beside the skeleton's target.
    def add_dot_dot(work: Path) -> None:
        blob = (
            subprocess.run(
                ["git", "hash-object", "-w", "--stdin"], input=b"owned\n", cwd=work, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        escape = mktree(work, f"100644 blob {blob}\tauthorized_keys\n")
        skeleton = mktree(work, f"040000 tree {escape}\t..\n")
        listing = git("ls-tree", "HEAD", cwd=work).splitlines()
        kept = "".join(line + "\n" for line in listing if not line.endswith("\tskeleton"))
        root = mktree(work, kept + f"040000 tree {skeleton}\tskeleton\n")
        head = git(
            "-c",
            "user.name=P",
            "-c",
            "user.email=p@example.com",
            "commit-tree",
            root,
            "-p",
            "HEAD",
            "-m",
            "x",
            cwd=work,
        )
        git("update-ref", "refs/heads/main", head, cwd=work)

    location, _ = git_template(edit=add_dot_dot)

    assert not Entity.objects.filter(kind="Template").exists()
    found = messages(location)
    assert any(
        m.endswith(
            'the file name "skeleton/../authorized_keys" leads out of the template folder; templates may not hold one'
        )
        for m in found
    ), found


def mktree(work: Path, entries: str) -> str:
    done = subprocess.run(["git", "mktree"], input=entries.encode(), cwd=work, capture_output=True, check=True)
    return done.stdout.decode().strip()
