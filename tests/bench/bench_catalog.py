"""Catalog ingestion benchmark; run with ``python tests/bench/bench_catalog.py [N ...]`` (default: 1000 10000).

For each N it writes N realistic entities (teams, people, systems, components with owners and dependencies, APIs,
resources) as YAML files in a temporary directory, registers it as a trusted file location, and times:
the first refresh (until every entity and relation is queryable), and a refresh of the unchanged location.
It prints entities/s and the process's peak RSS.

Uses the database of DATABASE_URL (SQLite by default) through Django's test-database machinery: a throwaway
`test_<name>` database is created first and dropped at the end. Targets on 2 cores with PostgreSQL: 10,000
entities in at most 10 s, an unchanged 10,000-entity refresh in at most 3 s.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django
import yaml

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from catalog import services  # noqa: E402
from catalog.models import Entity, Location, Relation  # noqa: E402

V = "backstage.io/v1alpha1"
PER_FILE = 200


def entities(n: int, rng: random.Random) -> list[dict[str, Any]]:
    teams = max(2, n // 50)
    users = max(2, n // 10)
    systems = max(1, n // 40)
    apis = max(1, n // 8)
    resources = max(1, n // 25)
    components = max(1, n - teams - users - systems - apis - resources - 2)
    docs: list[dict[str, Any]] = [
        {"apiVersion": V, "kind": "Domain", "metadata": {"name": "commerce"}, "spec": {"owner": "team-0"}},
        {"apiVersion": V, "kind": "Domain", "metadata": {"name": "platform"}, "spec": {"owner": "team-1"}},
    ]
    for t in range(teams):
        spec: dict[str, Any] = {"type": "team", "children": []}
        if t:
            spec["parent"] = f"team-{(t - 1) // 5}"
        docs.append(
            {"apiVersion": V, "kind": "Group", "metadata": {"name": f"team-{t}", "title": f"Team {t}"}, "spec": spec}
        )
    for u in range(users):
        docs.append(
            {
                "apiVersion": V,
                "kind": "User",
                "metadata": {"name": f"person-{u}"},
                "spec": {
                    "profile": {"displayName": f"Person {u}", "email": f"person-{u}@example.com"},
                    "memberOf": [f"team-{u % teams}"],
                },
            }
        )
    for s in range(systems):
        docs.append(
            {
                "apiVersion": V,
                "kind": "System",
                "metadata": {"name": f"system-{s}", "description": f"System number {s}"},
                "spec": {"owner": f"team-{s % teams}", "domain": rng.choice(["commerce", "platform"])},
            }
        )
    for a in range(apis):
        docs.append(
            {
                "apiVersion": V,
                "kind": "API",
                "metadata": {"name": f"api-{a}", "tags": ["rest"]},
                "spec": {
                    "type": "openapi",
                    "lifecycle": "production",
                    "owner": f"team-{a % teams}",
                    "system": f"system-{a % systems}",
                    "definition": f"openapi: 3.0.0\ninfo: {{title: API {a}, version: 1.0.0}}\npaths: {{}}\n",
                },
            }
        )
    for r in range(resources):
        docs.append(
            {
                "apiVersion": V,
                "kind": "Resource",
                "metadata": {"name": f"db-{r}"},
                "spec": {"type": "database", "owner": f"team-{r % teams}", "system": f"system-{r % systems}"},
            }
        )
    for c in range(components):
        deps = [f"component:service-{d}" for d in rng.sample(range(components), min(2, components)) if d != c]
        docs.append(
            {
                "apiVersion": V,
                "kind": "Component",
                "metadata": {
                    "name": f"service-{c}",
                    "description": f"Service {c} of the benchmark organisation",
                    "tags": rng.sample(["java", "go", "python", "kotlin", "rust", "node"], 2),
                    "annotations": {"github.com/project-slug": f"acme/service-{c}"},
                    "links": [{"url": f"https://runbooks.example.com/service-{c}", "title": "Runbook"}],
                },
                "spec": {
                    "type": "service",
                    "lifecycle": rng.choice(["production", "experimental"]),
                    "owner": f"team-{c % teams}",
                    "system": f"system-{c % systems}",
                    "dependsOn": [*deps, f"resource:db-{c % resources}"],
                    "providesApis": [f"api-{c % apis}"],
                    "consumesApis": [f"api-{(c * 7 + 1) % apis}"],
                },
            }
        )
    return docs[:n]


def write_catalog(directory: Path, docs: list[dict[str, Any]]) -> Path:
    (directory / "entities").mkdir()
    for index in range(0, len(docs), PER_FILE):
        chunk = docs[index : index + PER_FILE]
        (directory / "entities" / f"part-{index // PER_FILE:04d}.yaml").write_text(
            yaml.safe_dump_all(chunk, sort_keys=False)
        )
    index_file = directory / "all.yaml"
    index_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": V,
                "kind": "Location",
                "metadata": {"name": "bench"},
                "spec": {"target": "./entities/*.yaml"},
            }
        )
    )
    return index_file


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="paved-bench-") as tmp:
        directory = Path(tmp).resolve()
        settings.PAVED_CATALOG_FILE_ROOTS = [str(directory)]
        settings.PAVED_CATALOG_MAX_FILES = 100_000
        docs = entities(n, random.Random(n))
        index_file = write_catalog(directory, docs)
        Entity.objects.all().delete()
        Location.objects.all().delete()
        location = Location.objects.create(type="file", target=str(index_file), trusted=True)

        started = time.perf_counter()
        first = services.location_refresh(location=location)
        elapsed = time.perf_counter() - started
        stored = Entity.objects.filter(location=location).count()
        relations = Relation.objects.count()
        assert first.applied.errors == [], first.applied.errors[:3]
        assert stored == n + 2, (stored, n)  # + the index Location and the synthetic Location

        started = time.perf_counter()
        again = services.location_refresh(location=location)
        unchanged = time.perf_counter() - started
        assert again.applied.written == 0

        print(
            f"{n:>7} entities ({first.files_read} files, {relations} relation rows): first refresh {elapsed:6.2f} s "
            f"= {n / elapsed:7.0f} entities/s; unchanged refresh {unchanged:5.2f} s; peak RSS {peak_rss_mib():.0f} MiB"
        )


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [1000, 10000]
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        # A name of our own: the test suite may be using test_<name> on the same server at this moment.
        db["TEST"] = {**(db.get("TEST") or {}), "NAME": f"test_{db['NAME']}_bench_{os.getpid()}"}
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), cpus: {os.cpu_count()}")
        for n in sizes:
            bench(n)
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
