"""POST /api/scaffolder/v2/dry-run: Backstage's dry run, of a template of the catalog or of an inline one."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.models import Entity
from scaffolder.models import Event, Run, Step
from tests.catalog.factories import ingest, new_location, org_docs
from tests.portal.factories import AdminFactory
from tests.scaffolder.test_views import template_doc

pytestmark = pytest.mark.django_db

URL = "/api/scaffolder/v2/dry-run"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def inline_template(**spec: Any) -> dict[str, Any]:
    """A Template whose one page asks for a name; it renders ./skeleton, logs, and outputs the name."""
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "inline-one", "title": "Inline"},
        "spec": {
            "owner": "group:default/payments",
            "type": "service",
            "parameters": [{"title": "About", "required": ["name"], "properties": {"name": {"type": "string"}}}],
            "steps": [
                {
                    "id": "fetch",
                    "name": "Render",
                    "action": "fetch:template",
                    "input": {"url": "./skeleton", "values": {"name": "${{ parameters.name }}"}},
                },
                {
                    "id": "say",
                    "name": "Say",
                    "action": "debug:log",
                    "input": {"message": "made ${{ parameters.name }}"},
                },
            ],
            "output": {"text": [{"title": "Name", "content": "${{ parameters.name }}"}]},
            **spec,
        },
    }


SKELETON = [
    {"path": "skeleton/README.md", "base64Content": b64("# ${{ values.name }}\n")},
    {"path": "skeleton/bin/run.sh", "base64Content": b64("#!/bin/sh\necho ${{ values.name }}\n"), "executable": True},
]


@pytest.fixture
def catalog() -> None:
    result = ingest([*org_docs(), template_doc()], location=new_location(trusted=True))
    assert not result.errors, result.errors


@pytest.fixture
def admin_client(client_for: Callable[..., Client]) -> Client:
    AdminFactory(username="root")
    return client_for("root")


def post(client: Client, body: Any) -> Any:
    return client.post(URL, body, content_type="application/json")


def runs_left(var_dir: Path) -> list[Path]:
    root = var_dir / "scaffolder" / "runs"
    return sorted(root.iterdir()) if root.exists() else []


def test_dry_run_of_a_catalog_template_answers_in_backstages_shape(catalog, var_dir, auth_client: Client) -> None:
    response = post(auth_client, {"templateRef": "template:default/python-service", "values": {"name": "tiny"}})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"log", "directoryContents", "output", "steps"}
    assert body["steps"] == [{"id": "log", "name": "Say hello", "action": "debug:log"}]
    assert body["directoryContents"] == []
    assert body["output"] == {}
    assert {"body": {"message": "hi", "stepId": "log"}} in body["log"]
    assert all(
        set(entry) == {"body"} and set(entry["body"]) <= {"message", "status", "stepId"} for entry in body["log"]
    )
    assert body["log"][-1] == {"body": {"message": "Run completed", "status": "completion"}}


def test_dry_run_keeps_nothing(catalog, var_dir, auth_client: Client) -> None:
    response = post(auth_client, {"templateRef": "template:default/python-service", "values": {"name": "tiny"}})

    assert response.status_code == 200
    assert not Run.objects.exists()
    assert not Step.objects.exists()
    assert not Event.objects.exists()
    assert runs_left(var_dir) == []


def test_inline_dry_run_renders_files_with_values_as_data(var_dir, admin_client: Client) -> None:
    hostile = "../../x {{ 7*7 }} ${{ secrets.x }}"
    response = post(
        admin_client,
        {
            "template": inline_template(),
            "values": {"name": hostile},
            "secrets": {"x": "s3cret"},
            "directoryContents": SKELETON,
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    files = {entry["path"]: entry for entry in body["directoryContents"]}
    assert set(files) == {"README.md", "bin/run.sh", ".copier-answers.yml"}
    assert base64.b64decode(files["README.md"]["base64Content"]).decode() == f"# {hostile}\n"
    assert files["bin/run.sh"]["executable"] is True
    assert files["README.md"]["executable"] is False
    assert body["output"] == {"text": [{"title": "Name", "content": hostile}]}
    assert {"body": {"message": f"made {hostile}", "stepId": "say"}} in body["log"]
    assert "s3cret" not in response.content.decode()
    assert body["steps"] == [
        {"id": "fetch", "name": "Render", "action": "fetch:template"},
        {"id": "say", "name": "Say", "action": "debug:log"},
    ]
    assert not (var_dir / "x").exists()
    assert runs_left(var_dir) == []
    assert not Run.objects.exists()


def test_a_failing_step_ends_the_log_with_the_failure_and_keeps_nothing(var_dir, admin_client: Client) -> None:
    template = inline_template()
    template["spec"]["steps"][0]["input"]["url"] = "./missing"
    response = post(admin_client, {"template": template, "values": {"name": "a"}, "directoryContents": SKELETON})

    assert response.status_code == 200
    log = [entry["body"] for entry in response.json()["log"]]
    assert log[-1]["status"] == "completion"
    assert log[-1]["message"].startswith("Run failed: Step fetch (fetch:template)")
    assert "missing" in log[-1]["message"]
    assert runs_left(var_dir) == []
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_beyond_its_time_limit_is_stopped_before_its_next_step(
    var_dir, settings, admin_client: Client
) -> None:
    settings.PAVED_SCAFFOLDER_DRY_RUN_SECONDS = 0.05
    steps = [{"id": f"s{n}", "action": "debug:log", "input": {"message": f"line {n}"}} for n in range(400)]
    response = post(admin_client, {"template": inline_template(steps=steps, output={}), "values": {"name": "a"}})

    assert response.status_code == 200, response.content
    log = [entry["body"]["message"] for entry in response.json()["log"]]
    assert "The dry run reached its time limit of 0.05 s; it stops before the next step" in log
    assert log[-1] == "Run cancelled"
    assert "line 399" not in log
    assert runs_left(var_dir) == []
    assert not Run.objects.exists()


def test_values_are_checked_against_the_parameters_with_field_paths(catalog, var_dir, auth_client: Client) -> None:
    response = post(auth_client, {"templateRef": "template:default/python-service", "values": {"name": "Not Valid"}})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["name"] == "InputError"
    assert list(error["details"]) == ["values.name"]
    assert "values.name" in error["message"]
    assert not Run.objects.exists()
    assert runs_left(var_dir) == []


def test_anonymous_is_401() -> None:
    response = post(Client(), {"templateRef": "template:default/python-service", "values": {}})

    assert response.status_code == 401
    assert response.json()["error"]["name"] == "AuthenticationError"


def test_an_inline_template_is_refused_to_a_non_administrator(var_dir, auth_client: Client) -> None:
    response = post(auth_client, {"template": inline_template(), "values": {"name": "a"}, "directoryContents": []})

    assert response.status_code == 403
    assert response.json()["error"]["name"] == "NotAllowedError"
    assert "trusted locations" in response.json()["error"]["message"]
    assert runs_left(var_dir) == []


def test_an_unknown_template_ref_is_404(auth_client: Client) -> None:
    assert post(auth_client, {"templateRef": "template:default/nope", "values": {}}).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"values": {}}, "template"),
        ({"templateRef": "template:default/python-service", "template": inline_template(), "values": {}}, "template"),
        (
            {"templateRef": "template:default/python-service", "values": {}, "directoryContents": []},
            "directoryContents",
        ),
        ({"templateRef": "template:default/python-service", "values": []}, "values"),
        ({"template": "template:default/python-service", "values": {}}, "template"),
    ],
)
def test_malformed_bodies_are_400_naming_the_field(catalog, auth_client: Client, body, where) -> None:
    response = post(auth_client, body)

    assert response.status_code == 400
    assert where in response.json()["error"]["details"]


def _bad_name(template: dict[str, Any]) -> None:
    template["metadata"]["name"] = "Not a name!"


def _no_steps(template: dict[str, Any]) -> None:
    del template["spec"]["steps"]


def _action_not_a_string(template: dict[str, Any]) -> None:
    template["spec"]["steps"][0]["action"] = 5


def _steps_not_a_list(template: dict[str, Any]) -> None:
    template["spec"]["steps"] = "fetch"


@pytest.mark.parametrize(
    ("breakage", "path"),
    [
        (_bad_name, "template.metadata.name"),
        (_no_steps, "template.spec.steps"),
        (_steps_not_a_list, "template.spec.steps"),
        (_action_not_a_string, "template.spec.steps[0].action"),
    ],
)
def test_an_invalid_inline_template_is_refused_naming_the_path(var_dir, admin_client: Client, breakage, path) -> None:
    template = inline_template()
    breakage(template)
    response = post(admin_client, {"template": template, "values": {"name": "a"}, "directoryContents": []})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["name"] == "InputError"
    assert path in error["details"], error
    assert runs_left(var_dir) == []
    assert not Run.objects.exists()


def test_an_inline_entity_of_another_kind_is_refused(admin_client: Client) -> None:
    component = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "thing"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "group:default/payments"},
    }
    response = post(admin_client, {"template": component, "values": {}, "directoryContents": []})

    assert response.status_code == 400
    assert "template.kind" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "../outside.txt", "base64Content": b64("x")}, "'..'"),
        ({"path": "skeleton/../../outside.txt", "base64Content": b64("x")}, "'..'"),
        ({"path": "/etc/passwd", "base64Content": b64("x")}, "absolute"),
        ({"path": "~/x", "base64Content": b64("x")}, "absolute"),
        ({"path": "C:/x", "base64Content": b64("x")}, "absolute"),
        ({"path": "skeleton\\..\\x", "base64Content": b64("x")}, "backslashes"),
        ({"path": "skeleton/\x00x", "base64Content": b64("x")}, "control characters"),
        ({"path": ".git/hooks/post-checkout", "base64Content": b64("x")}, ".git"),
        ({"path": "./", "base64Content": b64("x")}, "root"),
        ({"path": "", "base64Content": b64("x")}, "relative file path"),
        ({"path": 7, "base64Content": b64("x")}, "relative file path"),
        ({"path": "skeleton/link", "base64Content": b64("x"), "symlink": "/etc"}, "never links"),
        ({"path": "skeleton/link", "base64Content": "", "type": "symlink", "target": "/etc"}, "never links"),
        ({"path": "skeleton/a", "base64Content": "not base64!"}, "not valid base64"),
        ({"path": "skeleton/a", "base64Content": 12}, "base64"),
        ({"path": "skeleton/a", "base64Content": b64("x"), "executable": "yes"}, "true or false"),
    ],
)
def test_hostile_directory_contents_are_refused_clearly(var_dir, admin_client: Client, entry, message) -> None:
    response = post(
        admin_client, {"template": inline_template(), "values": {"name": "a"}, "directoryContents": [entry]}
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["name"] == "InputError"
    assert error["message"].startswith("directoryContents[0]")
    assert message in error["message"]
    assert runs_left(var_dir) == []
    assert not Run.objects.exists()


def test_huge_directory_contents_are_refused_before_decoding(var_dir, admin_client: Client) -> None:
    huge = base64.b64encode(b"\0" * (1024 * 1024 + 10)).decode()
    entries = [{"path": "skeleton/big.bin", "base64Content": huge}]
    response = post(
        admin_client, {"template": inline_template(), "values": {"name": "a"}, "directoryContents": entries}
    )

    assert response.status_code == 400
    assert "at most 1048576 bytes" in response.json()["error"]["message"]
    assert runs_left(var_dir) == []


def test_a_file_that_is_also_a_folder_and_a_repeated_path_are_refused(admin_client: Client) -> None:
    clash = [{"path": "skeleton", "base64Content": b64("x")}, {"path": "skeleton/a", "base64Content": b64("y")}]
    twice = [{"path": "skeleton/a", "base64Content": b64("x")}, {"path": "./skeleton/a", "base64Content": b64("y")}]
    for entries, message in [(clash, "as a file and as a folder"), (twice, "given twice")]:
        response = post(
            admin_client, {"template": inline_template(), "values": {"name": "a"}, "directoryContents": entries}
        )
        assert response.status_code == 400
        assert message in response.json()["error"]["message"]


def test_too_many_files_are_refused(admin_client: Client) -> None:
    entries = [{"path": f"skeleton/{n}", "base64Content": ""} for n in range(501)]
    response = post(
        admin_client, {"template": inline_template(), "values": {"name": "a"}, "directoryContents": entries}
    )

    assert response.status_code == 400
    assert "directoryContents" in response.json()["error"]["details"]


def test_a_dry_run_of_the_demo_python_service_renders_it_and_publishes_nothing(
    var_dir, client_for: Callable[..., Client]
) -> None:
    call_command("demo_setup", stdout=io.StringIO())
    client = client_for("ada")
    values = {
        "name": "parcel-tracker",
        "description": "Tracks parcels",
        "owner": "group:default/fulfilment",
        "system": "system:default/fulfilment",
        "lifecycle": "experimental",
        "memoryMiB": 512,
        "cpu": 0.5,
        "escalationPolicy": "escalationpolicy:default/fulfilment",
        "repoUrl": "local?owner=fulfilment&repo=parcel-tracker",
    }
    response = post(client, {"templateRef": "template:default/python-service", "values": values})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["log"][-1]["body"] == {"message": "Run completed", "status": "completion"}
    files = {entry["path"]: base64.b64decode(entry["base64Content"]).decode() for entry in body["directoryContents"]}
    assert {"README.md", "catalog-info.yaml", "pyproject.toml", "src/app/main.py"} <= set(files)
    assert "name: parcel-tracker" in files["catalog-info.yaml"]
    assert [step["action"] for step in body["steps"]] == ["fetch:template", "publish:git", "catalog:register"]
    assert any("(dry run) would create" in entry["body"]["message"] for entry in body["log"])
    assert not (var_dir / "repos" / "fulfilment" / "parcel-tracker.git").exists()
    assert not Entity.objects.filter(kind="Component", name="parcel-tracker").exists()
    assert not Run.objects.exists()
    assert runs_left(var_dir) == []


def test_nul_characters_in_values_or_template_are_refused(catalog, var_dir, admin_client: Client) -> None:
    template = inline_template()
    template["metadata"]["description"] = "nul \u0000 here"
    refused = [
        post(admin_client, {"templateRef": "template:default/python-service", "values": {"name": "a\u0000b"}}),
        post(admin_client, {"template": template, "values": {"name": "a"}, "directoryContents": []}),
    ]

    assert [response.status_code for response in refused] == [400, 400]
    assert "NUL" in refused[0].json()["error"]["message"]
    assert not Run.objects.exists()
    assert runs_left(var_dir) == []
