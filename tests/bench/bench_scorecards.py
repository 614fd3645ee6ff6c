"""Scorecards benchmark against the production processes; run with
``python tests/bench/bench_scorecards.py [--services N] [--edits N]`` (or ``make bench BENCH=scorecards``).

On a throwaway PostgreSQL database and Redis (tests/bench/stack.py) it writes an organisation of --services services
(default 10,000) in teams of 100, each team with five people, a weekly primary schedule, a weekday secondary and an
escalation policy, and a Scorecard of 20 catalog and on-call checks; registers it as a trusted file location with
`manage.py catalog import`, empties the queue (so nothing was evaluated yet), then measures:

- from scratch: `manage.py scorecards evaluate` over every service — facts collected, 20 checks graded per service,
  results, scores, facts and transitions written (target ≤ 15 s for 10,000 services on a 2-core box). Printed: the
  command's wall-clock seconds and the evaluation's own (without Python's start-up);
- the same sweep again (every row already there);
- change to result: with the web tier, the worker and beat running, --edits times: a service's file is edited (a runbook
  link added or removed), `POST /api/catalog/refresh` asks for its location to be read again, and
  `GET /api/scorecards/results/by-entity/...` is polled until the runbook check shows the new state (target ≤ 10 s).

Figures are printed, nothing about time is asserted; a request that answers wrongly stops the benchmark.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.stack import (
    BehindProxy,
    BenchError,
    ProductionStack,
    Row,
    StackError,
    api_client,
    bench_stack,
    expect,
    poll,
    table,
)

TEAM_SIZE = 100
CARD = "scorecard:default/bench-readiness"
TARGET_SWEEP = 15.0
TARGET_LATENCY = 10.0
POLL_SECONDS = 0.1


def _check(check_id: str, level: str, **rule: Any) -> dict[str, Any]:
    return {"id": check_id, "level": level, "title": check_id.replace("-", " ").capitalize(), "rule": rule}


CHECKS = [
    _check("owner-team", "Bronze", type="catalog.owner-is-group", minMembers=2),
    _check("lifecycle", "Bronze", type="catalog.field-present", path="spec.lifecycle"),
    _check("type", "Bronze", type="catalog.field-equals", path="spec.type", value="service"),
    _check("description", "Bronze", type="catalog.field-present", path="metadata.description"),
    _check("system", "Bronze", type="catalog.relation-exists", relationType="partOf"),
    _check("policy", "Bronze", type="oncall.has-policy"),
    _check("runbook", "Silver", type="catalog.link-present", linkType="runbook"),
    _check("dashboard", "Silver", type="catalog.link-present", linkType="dashboard"),
    _check("tier", "Silver", type="catalog.annotation-present", key="paved.dev/tier"),
    _check("name", "Silver", type="catalog.field-matches", path="metadata.name", pattern="^[a-z][a-z0-9-]+$"),
    _check("tags", "Silver", type="catalog.field-present", path="metadata.tags"),
    _check("two-levels", "Silver", type="oncall.levels", min=2, distinctPeople=False),
    _check("coverage-7", "Silver", type="oncall.coverage", days=7, minPercent=90),
    _check("coverage-14", "Gold", type="oncall.coverage", days=14, minPercent=100, maxGapHours=0),
    _check("rotation", "Gold", type="oncall.rotation-size", min=3),
    _check("balance", "Gold", type="oncall.balance", maxSharePercent=50, days=28),
    _check("production", "Gold", type="catalog.field-equals", path="spec.lifecycle", value="production"),
    _check("owner-large", "Gold", type="catalog.owner-is-group", minMembers=5),
    _check("api", "Gold", type="catalog.relation-exists", relationType="providesApi"),
    _check("docs", "Gold", type="catalog.annotation-present", key="backstage.io/techdocs-ref"),
]


def team_docs(team: int) -> list[dict[str, Any]]:
    name = f"team-{team:03d}"
    people = [f"{name}-p{n}" for n in range(5)]
    return [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name, "annotations": {"paved.dev/escalation-policy": name}},
            "spec": {"type": "team", "children": [], "members": people},
        },
        *(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "User",
                "metadata": {"name": person},
                "spec": {"memberOf": [name]},
            }
            for person in people
        ),
        {
            "apiVersion": "paved.dev/v1alpha1",
            "kind": "Schedule",
            "metadata": {"name": f"{name}-primary"},
            "spec": {
                "owner": f"group:{name}",
                "timezone": "Europe/Berlin",
                "layers": [{"name": "weekly", "start": "2026-01-05T09:00", "turn": "1w", "members": people[:3]}],
            },
        },
        {
            "apiVersion": "paved.dev/v1alpha1",
            "kind": "Schedule",
            "metadata": {"name": f"{name}-secondary"},
            "spec": {
                "owner": f"group:{name}",
                "timezone": "Europe/Berlin",
                "layers": [
                    {
                        "name": "weekdays",
                        "start": "2026-01-05T09:00",
                        "turn": "1w",
                        "members": people[3:],
                        "restrictions": [{"weekly": {"from": "mon 09:00", "to": "fri 17:00"}}],
                    }
                ],
            },
        },
        {
            "apiVersion": "paved.dev/v1alpha1",
            "kind": "EscalationPolicy",
            "metadata": {"name": name},
            "spec": {
                "owner": f"group:{name}",
                "repeat": 1,
                "levels": [
                    {"delayMinutes": 15, "targets": [f"schedule:{name}-primary"]},
                    {"delayMinutes": 30, "targets": [f"schedule:{name}-secondary"]},
                ],
            },
        },
    ]


def service_doc(team: int, index: int, *, runbook: bool) -> dict[str, Any]:
    name = f"svc-{team:03d}-{index:03d}"
    links = [{"url": f"https://grafana.example.com/{name}", "type": "dashboard"}]
    if runbook:
        links.append({"url": f"https://runbooks.example.com/{name}", "type": "runbook"})
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "description": f"Service {index} of team {team}",
            "tags": ["bench"],
            "links": links,
            "annotations": {"paved.dev/tier": str(index % 3)} if index % 2 else {},
        },
        "spec": {
            "type": "service",
            "lifecycle": "production" if index % 4 else "experimental",
            "owner": f"team-{team:03d}",
        },
    }


def write_org(folder: Path, services: int) -> Path:
    """all.yaml (a Location naming one file per team, plus the scorecard) under `folder`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    teams = (services + TEAM_SIZE - 1) // TEAM_SIZE
    targets = ["./scorecard.yaml"]
    scorecard = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Scorecard",
        "metadata": {"name": "bench-readiness", "title": "Bench readiness"},
        "spec": {
            "owner": "group:team-000",
            "filter": "kind=component",
            "levels": ["Bronze", "Silver", "Gold"],
            "checks": CHECKS,
        },
    }
    (folder / "scorecard.yaml").write_text(yaml.safe_dump(scorecard, sort_keys=False))
    for team in range(teams):
        count = min(TEAM_SIZE, services - team * TEAM_SIZE)
        write_team(folder, team, count, runbook_missing=set())
        targets.append(f"./team-{team:03d}.yaml")
    index = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "bench-org"},
        "spec": {"targets": targets},
    }
    path = folder / "all.yaml"
    path.write_text(yaml.safe_dump(index, sort_keys=False))
    return path


def write_team(folder: Path, team: int, count: int, *, runbook_missing: set[int]) -> None:
    docs = team_docs(team) + [service_doc(team, i, runbook=i not in runbook_missing) for i in range(count)]
    (folder / f"team-{team:03d}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def sweep(stack: ProductionStack, name: str) -> Row:
    started = time.perf_counter()
    output = stack.manage("scorecards", "evaluate", "--no-progress")
    wall = time.perf_counter() - started
    found = re.search(r"Evaluated (\d+) entities on (\d+) scorecards in ([0-9.]+) s", output)
    if found is None:
        raise BenchError(f"manage.py scorecards evaluate did not say what it evaluated: {output[-1000:]}")
    print(f"{name}: {found.group(0)} ({wall:.2f} s with the command's start-up)")
    return Row(f"{name}: evaluation ({found.group(1)} entities)", [float(found.group(3))])


def runbook_state(api: BehindProxy, base_url: str, service: str) -> str | None:
    response = expect(
        api.get(f"{base_url}/api/scorecards/results/by-entity/component/default/{service}"), 200, "results"
    )
    cards = response.json()["scorecards"]
    if not cards:
        return None
    return next((check["state"] for check in cards[0]["checks"] if check["id"] == "runbook"), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args(argv)
    if args.services < TEAM_SIZE or args.edits < 1:
        parser.error(f"--services at least {TEAM_SIZE}, --edits at least 1")
    stack = bench_stack()
    with stack:
        try:
            return run(stack, args.services, args.edits)
        except (BenchError, StackError):
            stack.fail()
            raise


def run(stack: ProductionStack, services: int, edits: int) -> int:
    org = stack.tmp / "org"
    stack.env["PAVED_CATALOG_FILE_ROOTS"] = str(org)
    stack.prepare()
    index = write_org(org, services)
    started = time.perf_counter()
    stack.manage("catalog", "import", str(index), "--trusted")
    print(f"catalog import of {services} services: {time.perf_counter() - started:.1f} s")
    # The import asked the (not yet started) worker to evaluate what it created: forget that, to start from scratch.
    stack.run("purge", [str(Path(sys.executable).with_name("celery")), "-A", "portal", "purge", "-f"])
    rows = [sweep(stack, "from scratch"), sweep(stack, "again")]
    stack.start()
    api = api_client(stack)
    base = stack.base_url
    latencies: list[float] = []
    for edit in range(edits):
        team, service = edit % ((services + TEAM_SIZE - 1) // TEAM_SIZE), edit
        name = f"svc-{team:03d}-{service:03d}"

        def scored(name: str = name) -> str | None:
            return runbook_state(api, base, name)

        before = poll(scored, seconds=60, interval=0.5, what=f"{name} scored")
        wanted = "fail" if before == "pass" else "pass"
        count = min(TEAM_SIZE, services - team * TEAM_SIZE)
        write_team(org, team, count, runbook_missing={service} if wanted == "fail" else set())

        def changed(name: str = name, wanted: str = wanted) -> bool | None:
            return True if runbook_state(api, base, name) == wanted else None

        started = time.perf_counter()
        expect(api.post(f"{base}/api/catalog/refresh", json={"entityRef": f"component:default/{name}"}), 200, "refresh")
        poll(changed, seconds=60, interval=POLL_SECONDS, what=f"{name} runbook {wanted}")
        latencies.append(time.perf_counter() - started)
    rows.append(Row("entity change → result through the API", latencies))
    print()
    print(table(rows, unit="s", first_column="measure"))
    print(f"targets: from scratch ≤ {TARGET_SWEEP:g} s for 10,000 services x 20 checks")
    print(f"         change → result ≤ {TARGET_LATENCY:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
