"""The demo's sanctioned templates: valid Template entities whose skeletons render into working repositories, loaded
by demo_setup from tagged repositories on the embedded git host."""

from __future__ import annotations

import io
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
        assert tags.stdout.split() == ["v1.0.0"]
        assert templates.get(name=name).location.target.endswith("template.yaml")


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
