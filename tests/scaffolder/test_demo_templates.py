"""The demo's sanctioned templates: valid Template entities whose skeletons render into working repositories, loaded
by demo_setup from tagged repositories on the embedded git host."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.descriptors import parse_file
from catalog.models import Entity, Location
from scaffolder import demo
from scaffolder.actions import ActionContext, ActionSettings, action_get, validate_input

TEMPLATES = Path(settings.BASE_DIR) / "portal" / "demo" / "templates"
NAMES = ["go-service", "python-service"]
COMMON_FILES = {
    "README.md",
    ".github/workflows/ci.yml",
    "CODEOWNERS",
    "Dockerfile",
    "catalog-info.yaml",
    "deploy/service.yaml",
}
STACK_FILES = {
    "python-service": {
        "pyproject.toml",
        "src/app/__init__.py",
        "src/app/__main__.py",
        "src/app/main.py",
        "src/app/logging_setup.py",
        "tests/test_app.py",
    },
    "go-service": {"go.mod", "main.go", "main_test.go"},
}
VALUES = {
    "name": "parcel-tracker",
    "description": 'Tracks parcels: {{ 7*7 }} and "quotes" kept as written',
    "owner": "group:default/fulfilment",
    "system": "system:default/fulfilment",
    "lifecycle": "experimental",
    "memoryMiB": 512,
    "cpu": 0.5,
    "escalationPolicy": "escalationpolicy:default/fulfilment",
}


def template_of(name: str) -> dict:
    path = TEMPLATES / name / "template.yaml"
    result = parse_file(path.read_bytes(), file=str(path), resolver=None)
    assert result.issues == []
    [parsed] = result.entities
    return parsed.entity


@pytest.mark.parametrize("name", NAMES)
def test_demo_template_is_a_valid_template_entity(name):
    template = template_of(name)

    assert template["apiVersion"] == "scaffolder.backstage.io/v1beta3"
    assert template["kind"] == "Template"
    assert template["metadata"]["name"] == name
    assert template["spec"]["owner"] == "group:default/platform"
    properties = {key: value for page in template["spec"]["parameters"] for key, value in page["properties"].items()}
    assert properties["memoryMiB"] == {**properties["memoryMiB"], "default": 512, "minimum": 128, "maximum": 8192}
    assert properties["owner"]["ui:field"] == "OwnerPicker"
    assert properties["repoUrl"]["ui:options"] == {"allowedHosts": ["local"]}
    assert properties["escalationPolicy"]["ui:options"]["catalogFilter"] == {"kind": "EscalationPolicy"}
    assert [step["action"] for step in template["spec"]["steps"]] == [
        "fetch:template",
        "publish:git",
        "catalog:register",
    ]
    [rail] = template["spec"]["guardrails"]
    assert rail["approvers"] == "group:platform"


@pytest.mark.parametrize("name", NAMES)
def test_demo_template_skeleton_renders_every_file_with_values_as_data(tmp_path, name):
    template = template_of(name)
    fetch_step = template["spec"]["steps"][0]
    values = {**VALUES, "templateRef": f"template:default/{name}", "templateVersion": "v1.0.0"}
    assert set(fetch_step["input"]["values"]) == set(values)
    action_input = {"url": fetch_step["input"]["url"], "values": values}
    action = action_get("fetch:template")
    validate_input(action, action_input)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    ctx = ActionContext(
        run_id="run-1",
        step_id="fetch",
        workspace=workspace,
        input=action_input,
        template_dir=TEMPLATES / name,
        user_ref="user:default/ada",
        user_name="ada",
        user_email="ada@example.com",
        dry_run=False,
        log=lambda line: None,
        settings=ActionSettings(repos_root=tmp_path / "repos"),
    )

    action.run(ctx)

    files = {path.relative_to(workspace).as_posix() for path in workspace.rglob("*") if path.is_file()}
    assert files >= COMMON_FILES | STACK_FILES[name]
    texts = {path: (workspace / path).read_text() for path in COMMON_FILES | STACK_FILES[name]}
    assert not [path for path, text in texts.items() if "${{" in text]
    assert "parcel-tracker" in texts["README.md"]
    assert "{{ 7*7 }}" in texts["README.md"]
    assert "49" not in texts["README.md"]
    assert "@fulfilment" in texts["CODEOWNERS"]
    entity = yaml.safe_load(texts["catalog-info.yaml"])
    assert entity["metadata"]["name"] == "parcel-tracker"
    assert entity["metadata"]["description"] == VALUES["description"]
    assert entity["metadata"]["annotations"] == {
        "backstage.io/source-template": f"template:default/{name}",
        "paved.dev/template-version": "v1.0.0",
        "paved.dev/escalation-policy": "escalationpolicy:default/fulfilment",
    }
    assert entity["spec"] == {
        "type": "service",
        "lifecycle": "experimental",
        "owner": "group:default/fulfilment",
        "system": "system:default/fulfilment",
    }
    deploy = yaml.safe_load(texts["deploy/service.yaml"])
    assert deploy["resources"] == {"memoryMiB": 512, "cpu": 0.5}
    assert deploy["healthCheck"]["path"] == "/healthz"
    assert "/healthz" in texts["src/app/main.py" if name == "python-service" else "main.go"]
    parsed = parse_file(texts["catalog-info.yaml"].encode(), file="catalog-info.yaml", resolver=None)
    assert parsed.issues == []
    if name == "python-service":
        compile(texts["src/app/main.py"], "main.py", "exec")
        compile(texts["src/app/logging_setup.py"], "logging_setup.py", "exec")
        assert tomllib.loads(texts["pyproject.toml"])["project"]["name"] == "parcel-tracker"


@pytest.mark.django_db
def test_demo_setup_loads_the_templates_from_tagged_repositories_once():
    call_command("demo_setup", stdout=io.StringIO())
    call_command("demo_setup", stdout=io.StringIO())

    templates = Entity.objects.filter(kind="Template")
    assert sorted(templates.values_list("name", flat=True)) == NAMES
    locations = Location.objects.filter(type=Location.Type.GIT, trusted=True)
    assert locations.count() == len(NAMES)
    repos = Path(settings.VAR_DIR) / "repos" / "templates"
    for name in NAMES:
        repository = repos / f"{name}.git"
        assert locations.filter(target__startswith=f"{repository}#{demo.TEMPLATE_VERSION}:").exists()
        tags = subprocess.run(
            ["git", f"--git-dir={repository}", "tag", "--list"], capture_output=True, text=True, check=True
        )
        assert tags.stdout.split() == ["v0.8.0", "v0.9.0", "v1.0.0"]
        assert templates.get(name=name).location.target.endswith("template.yaml")
        # One commit per version on main, oldest first, the latest at main's head: a second load added none.
        assert git(repository, "rev-list", "--count", "main") == "3"
        assert git(repository, "rev-parse", "main") == git(repository, "rev-parse", "v1.0.0^{commit}")
        assert git(repository, "rev-parse", "v1.0.0^") == git(repository, "rev-parse", "v0.9.0^{commit}")
        assert git(repository, "rev-parse", "v0.9.0^") == git(repository, "rev-parse", "v0.8.0^{commit}")
        subjects = git(repository, "log", "--format=%s", "main").splitlines()
        assert [subject.split(":")[0] for subject in subjects] == [f"{name} v1.0.0", f"{name} v0.9.0", f"{name} v0.8.0"]
        # The latest version is the template folder as it is.
        for relative in ("template.yaml", "skeleton/.github/workflows/ci.yml", "skeleton/Dockerfile"):
            assert git(repository, "show", f"v1.0.0:{relative}") == (TEMPLATES / name / relative).read_text().strip()


def git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", f"--git-dir={repository}", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("name", "version", "missing", "present"),
    [
        ("python-service", "v0.8.0", ["docker build", "ruff check", "HEALTHCHECK", "USER service"], ["pytest"]),
        ("python-service", "v0.9.0", ["ruff check", "HEALTHCHECK"], ["docker build", "USER service"]),
        ("go-service", "v0.8.0", ["docker build", "go vet", ":nonroot"], ["go test"]),
        ("go-service", "v0.9.0", ["go vet", ":nonroot"], ["docker build"]),
        ("go-service", "v1.0.0", [], ["docker build", "go vet", ":nonroot"]),
    ],
)
def test_an_older_template_version_is_the_folder_with_the_later_changes_taken_back(
    tmp_path, name, version, missing, present
):
    history = demo.template_history(name)

    snapshot = demo.template_snapshot(TEMPLATES / name, history, version, tmp_path / "snapshot")

    text = "".join((snapshot / "skeleton" / f).read_text() for f in (".github/workflows/ci.yml", "Dockerfile"))
    assert [needle for needle in missing if needle in text] == []
    assert [needle for needle in present if needle not in text] == []
    # The files the scorecards look for are there at every version.
    for relative in COMMON_FILES:
        assert (snapshot / "skeleton" / relative).is_file()
    # The folder itself is untouched: it stays the latest version.
    assert "docker build" in (TEMPLATES / name / "skeleton" / ".github/workflows/ci.yml").read_text()


def history_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template-history.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("python-service: v1.0.0\n", "expected a list of versions, oldest first"),
        ("python-service: [{message: x}]\n", "a version needs `version`"),
        ("python-service: [{version: latest}]\n", "'latest' is not a version tag"),
        ("python-service: [{version: v1.0.0}, {version: v1.0.0}]\n", "v1.0.0 is listed twice"),
        ("python-service: [{version: v0.9.0}]\n", "the last version must be v1.0.0"),
        ("python-service: [{version: v1.0.0, replace: [{path: x}]}]\n", "a replacement needs path, old and new text"),
    ],
)
def test_a_malformed_history_is_refused_saying_where(tmp_path, text, message):
    with pytest.raises(demo.DemoTemplateError, match=re.escape(message)):
        demo.template_history("python-service", source=history_file(tmp_path, text))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("{path: ../outside.txt, old: a, new: b}", "'../outside.txt' is not a file of the template"),
        ("{path: /etc/hostname, old: a, new: b}", "'/etc/hostname' is not a file of the template"),
        ("{path: skeleton, old: a, new: b}", "'skeleton' is not a file of the template"),
        ("{path: skeleton/Dockerfile, old: a, new: text that is not there}", "exactly once, found 0"),
    ],
)
def test_a_change_that_cannot_be_taken_back_is_refused_and_nothing_outside_is_written(tmp_path, change, message):
    text = f"python-service:\n- {{version: v0.9.0}}\n- {{version: v1.0.0, replace: [{change}]}}\n"
    history = demo.template_history("python-service", source=history_file(tmp_path, text))
    (tmp_path / "outside.txt").write_text("b")

    with pytest.raises(demo.DemoTemplateError, match=re.escape(message)):
        demo.template_snapshot(TEMPLATES / "python-service", history, "v0.9.0", tmp_path / "snapshot")
    assert (tmp_path / "outside.txt").read_text() == "b"
    with pytest.raises(demo.DemoTemplateError, match=r"no version v0\.1\.0"):
        demo.template_snapshot(TEMPLATES / "python-service", history, "v0.1.0", tmp_path / "other")


@pytest.mark.django_db
def test_a_template_repository_published_before_its_history_is_left_as_it_is(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    source = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "go-service", source / "go-service")
    # As an earlier demo_setup left it: one commit, tagged v1.0.0.
    demo.templates_load(stdout=io.StringIO(), source=source, history=tmp_path / "none.yaml")
    repository = tmp_path / "var" / "repos" / "templates" / "go-service.git"
    head = git(repository, "rev-parse", "main")
    out = io.StringIO()

    demo.templates_load(stdout=out, source=source, history=demo.DEMO_HISTORY)

    assert git(repository, "tag", "--list").split() == ["v1.0.0"]
    assert git(repository, "rev-parse", "main") == head
    assert f"note: {repository} was published before the template's history" in out.getvalue()
    assert Entity.objects.filter(kind="Template", name="go-service").exists()


@pytest.mark.django_db
def test_a_demo_template_runs_end_to_end_into_a_registered_component(tmp_path, settings):
    from scaffolder.models import Run
    from scaffolder.runner import run_execute
    from scaffolder.services import run_create

    settings.VAR_DIR = tmp_path
    call_command("demo_setup", stdout=io.StringIO())
    template = Entity.objects.get(kind="Template", name="python-service")
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", first_name="Ada")
    parameters = {
        **{key: VALUES[key] for key in ("description", "owner", "system", "lifecycle", "memoryMiB", "cpu")},
        "name": "parcel-tracker",
        "escalationPolicy": VALUES["escalationPolicy"],
        "repoUrl": "local?owner=fulfilment&repo=parcel-tracker",
    }
    run = run_create(template=template.data, parameters=parameters, actor=user)
    assert run.status == Run.Status.OPEN
    # The demo templates come from git, tagged: the run reads the skeleton at that tag and records the version.
    assert run.template_dir.startswith("git:")
    assert run.template_dir.endswith("#v1.0.0:")
    assert (run.template_version, run.template_tag) == ("1.0.0", "v1.0.0")

    run_execute(run_id=str(run.pk))

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.error
    component = Entity.objects.get(ref="component:default/parcel-tracker")
    assert component.owner_ref == "group:default/fulfilment"
    assert component.data["metadata"]["annotations"]["backstage.io/source-template"] == (
        "template:default/python-service"
    )
    assert component.location.created_by == user
    links = {link["title"]: link for link in run.output["links"]}
    assert links["Open in catalog"]["entityRef"] == "component:default/parcel-tracker"
    assert links["Repository"]["url"].endswith("/repos/fulfilment/parcel-tracker.git")
    assert component.data["metadata"]["annotations"]["paved.dev/template-version"] == "1.0.0"
    # Copier's answers name the template's repository and the tag the run read, not the run's temporary copy.
    repository = Path(settings.VAR_DIR) / "repos" / "fulfilment" / "parcel-tracker.git"
    shown = subprocess.run(
        ["git", f"--git-dir={repository}", "show", "main:.copier-answers.yml"],
        capture_output=True,
        text=True,
        check=True,
    )
    answers = yaml.safe_load(shown.stdout)
    assert answers["_src_path"] == str(Path(settings.VAR_DIR) / "repos" / "templates" / "python-service.git")
    assert answers["_commit"] == "v1.0.0"
    assert answers["values"]["templateVersion"] == "1.0.0"
    exported = Path(settings.VAR_DIR) / "scaffolder" / "runs" / str(run.pk) / "template"
    assert (exported / "template.yaml").is_file()
    assert (exported / "skeleton").is_dir()
