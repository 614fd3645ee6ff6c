"""Scaffolder benchmark over HTTP against the production processes; run with
``python tests/bench/bench_scaffolder.py [--runs N] [--dry-runs N] [--files N]`` (or ``make bench BENCH=scaffolder``).

Starts the web tier (`make serve`), the Celery worker and beat on a throwaway PostgreSQL database and Redis
(tests/bench/stack.py),
registers a trusted template whose skeleton has --files files (published to the embedded git host, tagged v1.0.0,
steps fetch:template → publish:git → catalog:register), then with a personal API token:

- runs: --runs times, one after the other, `POST /api/scaffolder/v2/tasks`, poll `GET tasks/:id` until the run ends,
  then poll `GET /api/catalog/entities/by-name/component/default/<name>` until it answers 200. Printed: p50/p95/max
  seconds to completed and to the component in the catalog (target ≤ 2 s, never above 3 s), and where the time
  went: the wait for the worker to pick the run up, each step, and the run's end (from the run's events).
- dry runs: --dry-runs times `POST /api/scaffolder/v2/dry-run` with {templateRef, values} (target ≤ 1 s). Where the
  portal does not have that endpoint, a dry run is measured as the pages make one: the review page's dry-run
  button (a signed-in browser), then `GET tasks/:id` until the run ends.

Figures are printed, nothing about time is asserted; a request that answers wrongly stops the benchmark with what
it asked and what came back.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.prodstack import csrf_token, template_form_submit
from tests.bench.stack import (
    TIMEOUT,
    BehindProxy,
    BenchError,
    ProductionStack,
    Row,
    StackError,
    api_client,
    bench_stack,
    expect,
    percentile,
    poll,
    table,
)

TEMPLATE = "bench-service"
TEMPLATE_REF = f"template:default/{TEMPLATE}"
OWNER = "group:default/bench"
POLL_SECONDS = 0.05
RUN_SECONDS = 60
FINISHED = frozenset({"completed", "failed", "cancelled"})
TARGET_RUN = 2.0
LIMIT_RUN = 3.0
TARGET_DRY_RUN = 1.0
MAX_FILES = 5000

TEMPLATE_YAML = f"""\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: {TEMPLATE}
  title: Benchmark service
  description: A service skeleton of many files, for the scaffolder benchmark.
  annotations:
    paved.dev/template-version: v1.0.0
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: About the service
      required: [name, owner, description]
      properties:
        name:
          title: Name
          type: string
          pattern: "^[a-z][a-z0-9-]{{1,40}}$"
        owner:
          title: Owner
          type: string
          ui:field: OwnerPicker
        description:
          title: Description
          type: string
          maxLength: 300
  steps:
    - id: fetch
      name: Render the skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{{{ parameters.name }}}}
          owner: ${{{{ parameters.owner }}}}
          description: ${{{{ parameters.description }}}}
    - id: publish
      name: Publish the repository
      action: publish:git
      input:
        repoUrl: local?owner=bench&repo=${{{{ parameters.name }}}}
        description: ${{{{ parameters.description }}}}
    - id: register
      name: Register in the catalog
      action: catalog:register
      input:
        repoContentsUrl: ${{{{ steps['publish'].output.repoContentsUrl }}}}
        catalogInfoPath: /catalog-info.yaml
  output:
    links:
      - title: Repository
        url: ${{{{ steps['publish'].output.remoteUrl }}}}
"""

CATALOG_INFO = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${{{{ values.name }}}}
  description: ${{{{ values.description }}}}
  annotations:
    backstage.io/source-template: {TEMPLATE_REF}
spec:
  type: service
  lifecycle: experimental
  owner: ${{{{ values.owner }}}}
"""

MODULE = '''\
"""Module {index} of ${{{{ values.name }}}}, owned by ${{{{ values.owner }}}}."""

SERVICE = "${{{{ values.name }}}}"


def handler_{index}(request: dict) -> dict:
    return {{"service": SERVICE, "module": {index}, "path": request.get("path", "/")}}
'''


def write_template(folder: Path, files: int) -> Path:
    """A template folder `<folder>/bench-service` whose skeleton has `files` files: catalog-info.yaml, a README and
    Python modules that each use the template's values."""
    if not 2 <= files <= MAX_FILES:
        raise ValueError(f"--files is from 2 to {MAX_FILES}, found {files}")
    template = folder / TEMPLATE
    skeleton = template / "skeleton"
    (skeleton / "src" / "service").mkdir(parents=True)
    (template / "template.yaml").write_text(TEMPLATE_YAML)
    (skeleton / "catalog-info.yaml").write_text(CATALOG_INFO)
    (skeleton / "README.md").write_text("# ${{ values.name }}\n\n${{ values.description }}\n")
    for index in range(files - 2):
        (skeleton / "src" / "service" / f"module_{index:04d}.py").write_text(MODULE.format(index=index))
    return template


def register_template(stack: ProductionStack, files: int) -> None:
    """Publish the template to the stack's embedded git host, tag it v1.0.0 and register it as a trusted git location,
    the way `demo_setup` loads the demo templates."""
    source = stack.tmp / "templates"
    source.mkdir()
    write_template(source, files)
    code = (
        "import sys; from pathlib import Path; from scaffolder.demo import templates_load; "
        f"templates_load(stdout=sys.stdout, source=Path({str(source)!r}))"
    )
    printed = stack.manage("shell", "--command", code)
    if f"Registered the demo template {TEMPLATE}" not in printed or "error:" in printed:
        raise StackError(f"the benchmark template was not registered:\n{printed}")


def when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def breakdown(task: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds spent in each part of a run, from its events as the API gives them: `pick-up` (created until the
    worker started it), `step <id>` (its first to its last event) and `finish` (the last step until the run ended)."""
    parts: dict[str, float] = {}
    created = when(str(task["createdAt"]))
    started = next((event for event in events if event["body"].get("message", "").startswith("Run started")), None)
    if started is None:
        raise BenchError(f"task {task['id']} has no 'Run started' event")
    parts["pick-up (created → worker started)"] = when(started["createdAt"]) - created
    last = when(started["createdAt"])
    steps: dict[str, list[float]] = {}
    for event in events:
        step = event["body"].get("stepId")
        if step:
            steps.setdefault(str(step), []).append(when(event["createdAt"]))
    for step, times in steps.items():
        parts[f"step {step}"] = max(times) - min(times)
        last = max(last, *times)
    ended = next((event for event in events if event["type"] == "completion"), None)
    if ended is None:
        raise BenchError(f"task {task['id']} has no completion event")
    parts["finish (last step → run ended)"] = when(ended["createdAt"]) - last
    return parts


def run_once(api: BehindProxy, base_url: str, name: str) -> tuple[float, float, dict[str, float], list[float]]:
    """One run through the API: seconds to completed, seconds to the component in the catalog, the run's breakdown
    and the seconds of each `GET tasks/:id` made while polling."""
    values = {"name": name, "owner": OWNER, "description": f"Benchmark service {name}"}
    gets: list[float] = []
    started = time.perf_counter()
    created = expect(
        api.post(
            f"{base_url}/api/scaffolder/v2/tasks", json={"templateRef": TEMPLATE_REF, "values": values}, timeout=TIMEOUT
        ),
        201,
        "create a run",
    )
    task_url = f"{base_url}/api/scaffolder/v2/tasks/{created.json()['id']}"

    def finished() -> dict[str, Any] | None:
        before = time.perf_counter()
        answer = expect(api.get(task_url, timeout=TIMEOUT), 200, "read the run")
        gets.append(time.perf_counter() - before)
        task: dict[str, Any] = answer.json()
        return task if task["status"] in FINISHED else None

    task = poll(finished, seconds=RUN_SECONDS, interval=POLL_SECONDS, what=f"run of {name}")
    completed = time.perf_counter() - started
    events = expect(api.get(f"{task_url}/events", timeout=TIMEOUT), 200, "read the run's events").json()
    if task["status"] != "completed":
        problems = [event["body"]["message"] for event in events if event["body"].get("status") == "error"]
        raise BenchError(f"the run of {name} ended {task['status']}: {'; '.join(problems) or 'no error event'}")
    entity_url = f"{base_url}/api/catalog/entities/by-name/component/default/{name}"
    poll(
        lambda: True if api.get(entity_url, timeout=TIMEOUT).status_code == 200 else None,
        seconds=RUN_SECONDS,
        interval=POLL_SECONDS,
        what=f"component {name} in the catalog",
    )
    return completed, time.perf_counter() - started, breakdown(task, events), gets


def dry_run_endpoint(api: BehindProxy, base_url: str) -> bool:
    """Whether the portal has `POST /api/scaffolder/v2/dry-run` (a bare 404 or 405 means the route is missing)."""
    answer = api.post(f"{base_url}/api/scaffolder/v2/dry-run", json={}, timeout=TIMEOUT)
    if answer.status_code in (404, 405):
        try:
            body = answer.json()
        except ValueError:
            return False
        return isinstance(body, dict) and isinstance(body.get("error"), dict)
    return True


def dry_run_api(api: BehindProxy, base_url: str, index: int, files: int) -> None:
    values = {"name": f"dry-{index}", "owner": OWNER, "description": "A dry run"}
    answer = api.post(
        f"{base_url}/api/scaffolder/v2/dry-run", json={"templateRef": TEMPLATE_REF, "values": values}, timeout=TIMEOUT
    )
    if answer.status_code == 201 and "id" in answer.json():
        # A dry run that runs in the worker: done when its task ends.
        wait_task(api, base_url, str(answer.json()["id"]))
        return
    rendered = expect(answer, 200, "dry run").json().get("directoryContents")
    if isinstance(rendered, list) and len(rendered) < files:
        raise BenchError(f"the dry run rendered {len(rendered)} files, the skeleton has {files}")


def wait_task(session: BehindProxy, base_url: str, task_id: str) -> None:
    url = f"{base_url}/api/scaffolder/v2/tasks/{task_id}"

    def ended() -> str | None:
        status = str(expect(session.get(url, timeout=TIMEOUT), 200, "read the dry run").json()["status"])
        return status if status in FINISHED else None

    status = poll(ended, seconds=RUN_SECONDS, interval=POLL_SECONDS, what=f"dry run {task_id}")
    if status != "completed":
        raise BenchError(f"dry run {task_id} ended {status}")


def dry_run_pages(browser: BehindProxy, base_url: str, count: int) -> Row:
    """Dry runs as the review page's button makes them (used while the API has no dry-run endpoint)."""
    review_path, _ = template_form_submit(
        browser,
        base_url,
        f"default/{TEMPLATE}",
        {"name": "dry-run-service", "owner": OWNER, "description": "A dry run"},
    )
    review = expect(browser.get(f"{base_url}{review_path}", timeout=TIMEOUT), 200, "open the review page")
    token = csrf_token(review.text)
    create_path = review_path.replace("/review/", "/create/")

    def one(index: int) -> None:
        created = browser.post(
            f"{base_url}{create_path}",
            data={"csrfmiddlewaretoken": token, "dry_run": "true"},
            headers=browser.form_headers(review_path),
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        expect(created, 302, "dry run from the review page")
        wait_task(browser, base_url, created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    return Row.timed("dry run: review page button → task completed", count, one)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_scaffolder.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs created through the API, one after the other")
    parser.add_argument("--dry-runs", type=int, default=20, help="dry runs")
    parser.add_argument("--files", type=int, default=50, help="files in the template's skeleton")
    args = parser.parse_args(list(argv))
    for option, value, low, high in (
        ("--runs", args.runs, 1, 1000),
        ("--dry-runs", args.dry_runs, 1, 1000),
        ("--files", args.files, 2, MAX_FILES),
    ):
        if not low <= value <= high:
            parser.error(f"{option} is from {low} to {high}, found {value}")
    return args


def verdict(value: float, target: float) -> str:
    return "within target" if value <= target else f"ABOVE THE TARGET of {target:g} s"


def bench(stack: ProductionStack, args: argparse.Namespace) -> None:
    stack.prepare()
    register_template(stack, args.files)
    api = api_client(stack)
    stack.start()
    base = stack.base_url
    print(f"Paved at {base} (make serve, Celery worker and beat, PostgreSQL, Redis)")
    print(f"template {TEMPLATE_REF}: a skeleton of {args.files} files; {args.runs} runs, {args.dry_runs} dry runs")

    to_completed: list[float] = []
    to_catalog: list[float] = []
    polls: list[float] = []
    parts: dict[str, list[float]] = {}
    for index in range(args.runs):
        completed, catalog, run_parts, gets = run_once(api, base, f"bench-{index:04d}")
        to_completed.append(completed)
        to_catalog.append(catalog)
        polls.extend(gets)
        for part, seconds in run_parts.items():
            parts.setdefault(part, []).append(seconds)
    web_rss = stack.peak_rss_mib("serve")
    wall = sum(to_catalog)
    rows = [
        Row("run: POST tasks → GET tasks/:id completed", to_completed, sum(to_completed), web_rss),
        Row("run: POST tasks → component in the catalog (end to end)", to_catalog, wall, web_rss),
    ]
    if dry_run_endpoint(api, base):
        dry = Row.timed(
            "dry run: POST /api/scaffolder/v2/dry-run", args.dry_runs, lambda i: dry_run_api(api, base, i, args.files)
        )
        dry_shape = "the dry-run endpoint"
    else:
        browser = stack.sign_in("bench-browser", stack.superuser_create("bench-browser"))
        dry = dry_run_pages(browser, base, args.dry_runs)
        dry_shape = "the review page's dry-run button (POST /api/scaffolder/v2/dry-run is not there yet)"
    dry.peak_rss_mib = stack.peak_rss_mib("serve")
    rows.append(dry)
    print()
    print(table(rows, unit="s"))
    print()
    print(table([Row("GET tasks/:id while polling", polls, sum(polls), stack.peak_rss_mib("serve"))], unit="ms"))
    print()
    print("Where a run's time goes (seconds, from the run's events):")
    print(table([Row(part, seconds) for part, seconds in parts.items()], unit="s", first_column="part of a run"))
    print()
    p95 = percentile(to_catalog, 95)
    print(
        f"end to end: p50 {percentile(to_catalog, 50):.2f} s, p95 {p95:.2f} s, max {max(to_catalog):.2f} s — "
        f"{verdict(p95, TARGET_RUN)} (≤ {TARGET_RUN:g} s); max {verdict(max(to_catalog), LIMIT_RUN)} "
        f"(never above {LIMIT_RUN:g} s)"
    )
    print(
        f"dry run through {dry_shape}: p50 {percentile(dry.seconds, 50):.2f} s, p95 {percentile(dry.seconds, 95):.2f} s"
        f" — {verdict(percentile(dry.seconds, 95), TARGET_DRY_RUN)}"
    )
    print(
        f"peak RSS: web (server and its workers) {stack.peak_rss_mib('serve'):.0f} MiB, "
        f"worker {stack.peak_rss_mib('worker'):.0f} MiB; polling every {POLL_SECONDS * 1000:.0f} ms adds up to that "
        "much to each figure"
    )
    exited = stack.exited()
    if exited:
        raise BenchError(f"{', '.join(exited)} exited during the benchmark")


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    with bench_stack() as stack:
        try:
            bench(stack, args)
        except (BenchError, StackError) as error:
            stack.fail()
            print(f"bench_scaffolder: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
