"""The scaffolder benchmark's own parts: its options, the template it registers (a valid Template whose skeleton
renders every file with the values as data), where a run's time went, and how it finds the dry-run endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses
import yaml

from catalog.descriptors import parse_file
from scaffolder.actions import ActionContext, ActionSettings, action_get, validate_input
from tests.bench import bench_scaffolder
from tests.bench.stack import BenchError

BASE = "http://paved.test"


def test_options_default_to_ten_runs_twenty_dry_runs_and_fifty_files():
    args = bench_scaffolder.parse([])

    assert (args.runs, args.dry_runs, args.files) == (10, 20, 50)
    assert bench_scaffolder.parse(["--runs", "3", "--dry-runs", "1", "--files", "2"]).runs == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--runs", "0"],
        ["--runs", "-1"],
        ["--runs", "1001"],
        ["--dry-runs", "0"],
        ["--files", "1"],
        ["--files", "5001"],
        ["--runs", "ten"],
        ["--files", "1e9"],
        ["--unknown"],
        ["extra"],
    ],
)
def test_options_out_of_range_or_not_numbers_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        bench_scaffolder.parse(argv)

    assert raised.value.code == 2
    assert "bench_scaffolder.py: error:" in capsys.readouterr().err


@pytest.mark.parametrize("files", [1, 0, 5001])
def test_a_skeleton_of_too_few_or_too_many_files_is_refused(tmp_path, files):
    with pytest.raises(ValueError, match="--files is from 2 to 5000"):
        bench_scaffolder.write_template(tmp_path, files)
    assert list(tmp_path.iterdir()) == []


def test_the_benchmark_template_is_a_valid_template_with_the_three_steps(tmp_path):
    folder = bench_scaffolder.write_template(tmp_path, 50)
    text = (folder / "template.yaml").read_bytes()

    parsed = parse_file(text, file="template.yaml", resolver=None)

    assert parsed.issues == []
    [entity] = parsed.entities
    template = entity.entity
    assert template["kind"] == "Template"
    assert template["metadata"]["name"] == bench_scaffolder.TEMPLATE
    assert [step["action"] for step in template["spec"]["steps"]] == [
        "fetch:template",
        "publish:git",
        "catalog:register",
    ]
    files = [path for path in (folder / "skeleton").rglob("*") if path.is_file()]
    assert len(files) == 50


@pytest.mark.django_db
def test_the_benchmark_skeleton_renders_every_file_with_the_values_as_data(tmp_path):
    folder = bench_scaffolder.write_template(tmp_path / "templates", 12)
    template = yaml.safe_load((folder / "template.yaml").read_text())
    values = {"name": "bench-0001", "owner": "group:default/bench", "description": "Says {{ 7*7 }} as written"}
    action_input = {"url": template["spec"]["steps"][0]["input"]["url"], "values": values}
    action = action_get("fetch:template")
    validate_input(action, action_input)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    ctx = ActionContext(
        run_id="run-1",
        step_id="fetch",
        workspace=workspace,
        input=action_input,
        template_dir=folder,
        user_ref=None,
        user_name="bench",
        user_email="bench@example.com",
        dry_run=False,
        log=lambda line: None,
        settings=ActionSettings(repos_root=tmp_path / "repos"),
    )

    action.run(ctx)

    rendered = {path.relative_to(workspace) for path in workspace.rglob("*") if path.is_file()}
    skeleton = {path.relative_to(folder / "skeleton") for path in (folder / "skeleton").rglob("*") if path.is_file()}
    # Copier's answers file is the provenance every created repository carries.
    assert rendered == {*skeleton, Path(".copier-answers.yml")}
    assert not [path for path in rendered if "${{" in (workspace / path).read_text()]
    entity = yaml.safe_load((workspace / "catalog-info.yaml").read_text())
    assert entity["metadata"]["name"] == "bench-0001"
    assert entity["metadata"]["description"] == "Says {{ 7*7 }} as written"
    assert entity["spec"]["owner"] == "group:default/bench"
    module = (workspace / "src" / "service" / "module_0003.py").read_text()
    compile(module, "module_0003.py", "exec")
    assert 'SERVICE = "bench-0001"' in module


def event(message: str, at: str, step: str | None = None, kind: str = "log") -> dict:
    body = {"message": message, **({"stepId": step} if step else {})}
    return {"id": 1, "taskId": "t", "body": body, "type": kind, "createdAt": at}


def test_breakdown_splits_a_run_into_pick_up_steps_and_finish():
    task = {"id": "t", "createdAt": "2026-12-01T10:00:00.000Z"}
    events = [
        event("Run started", "2026-12-01T10:00:00.040Z"),
        event("Step fetch started", "2026-12-01T10:00:00.050Z", "fetch"),
        event("rendered 50 files", "2026-12-01T10:00:00.300Z", "fetch"),
        event("Step fetch completed", "2026-12-01T10:00:00.650Z", "fetch"),
        event("Step publish started", "2026-12-01T10:00:00.660Z", "publish"),
        event("Step publish completed", "2026-12-01T10:00:00.760Z", "publish"),
        event("Run completed", "2026-12-01T10:00:00.780Z", kind="completion"),
    ]

    parts = bench_scaffolder.breakdown(task, events)

    assert list(parts) == [
        "pick-up (created → worker started)",
        "step fetch",
        "step publish",
        "finish (last step → run ended)",
    ]
    assert [round(seconds, 3) for seconds in parts.values()] == [0.04, 0.6, 0.1, 0.02]


def test_breakdown_of_a_run_the_worker_never_started_says_so():
    task = {"id": "t-1", "createdAt": "2026-12-01T10:00:00Z"}

    with pytest.raises(BenchError, match="task t-1 has no 'Run started' event"):
        bench_scaffolder.breakdown(task, [event("Step fetch started", "2026-12-01T10:00:01Z", "fetch")])


def test_breakdown_of_a_run_without_its_end_says_so():
    task = {"id": "t-2", "createdAt": "2026-12-01T10:00:00Z"}

    with pytest.raises(BenchError, match="task t-2 has no completion event"):
        bench_scaffolder.breakdown(task, [event("Run started", "2026-12-01T10:00:01Z")])


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "there"),
    [
        (404, "<h1>Not Found</h1>", False),
        (405, "", False),
        (404, '{"detail": "Not found."}', False),
        (404, '{"error": {"name": "NotFoundError", "message": "no template"}}', True),
        (400, '{"error": {"name": "InputError", "message": "templateRef or template"}}', True),
        (200, "{}", True),
    ],
)
def test_the_dry_run_endpoint_is_there_unless_its_route_is_missing(status, body, there):
    responses.post(f"{BASE}/api/scaffolder/v2/dry-run", status=status, body=body)

    assert bench_scaffolder.dry_run_endpoint(requests.Session(), BASE) is there


@responses.activate
def test_a_dry_run_that_renders_fewer_files_than_the_skeleton_has_stops_the_benchmark():
    responses.post(f"{BASE}/api/scaffolder/v2/dry-run", json={"directoryContents": [{"path": "a"}], "log": []})

    with pytest.raises(BenchError, match="the dry run rendered 1 files, the skeleton has 50"):
        bench_scaffolder.dry_run_api(requests.Session(), BASE, 0, 50)


@responses.activate
def test_a_refused_dry_run_stops_the_benchmark_with_the_answer():
    responses.post(f"{BASE}/api/scaffolder/v2/dry-run", status=400, json={"error": {"message": "values do not fit"}})

    with pytest.raises(BenchError, match=r"dry run: POST /api/scaffolder/v2/dry-run answered 400.*values do not fit"):
        bench_scaffolder.dry_run_api(requests.Session(), BASE, 0, 50)
