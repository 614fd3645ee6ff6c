"""The generated catalog the catalog benchmarks share: Groups, Users, Systems, then Components (70 %), APIs (20 %)
and Resources (10 %) named `<word>-<i>`, with types, lifecycles, tags, owners, systems and dependencies spread evenly.
Deterministic for a given seed, so two runs and two benchmarks measure the same catalog."""

from __future__ import annotations

import random
from typing import Any

TYPES = ("service", "website", "library", "worker", "batch")
LIFECYCLES = ("production", "experimental", "deprecated")
TAGS = ("java", "python", "go", "rust", "typescript", "kotlin", "grpc", "rest", "kafka", "postgres")
WORDS = ("payments", "billing", "search", "ledger", "identity", "catalog", "orders", "pricing", "routing", "storage")


def generated(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` entity documents (at least the teams, people and systems the size calls for)."""
    teams = max(10, count // 200)
    docs: list[dict[str, Any]] = []
    for t in range(teams):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Group",
                "metadata": {"name": f"team-{t}"},
                "spec": {"type": "team", "children": []},
            }
        )
    users = max(10, count // 20)
    for u in range(users):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "User",
                "metadata": {"name": f"person-{u}"},
                "spec": {"memberOf": [f"team-{u % teams}"], "profile": {"email": f"person-{u}@example.com"}},
            }
        )
    systems = max(5, count // 100)
    for s in range(systems):
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "System",
                "metadata": {"name": f"system-{s}"},
                "spec": {"owner": f"team-{s % teams}"},
            }
        )
    i = 0
    while len(docs) < count:
        word = WORDS[i % len(WORDS)]
        kind_roll = i % 10
        if kind_roll < 7:
            doc = {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {
                    "name": f"{word}-{i}",
                    "title": f"{word.title()} {i}",
                    "description": f"The {word} component number {i}",
                    "tags": rng.sample(TAGS, 2),
                    "annotations": {"backstage.io/techdocs-ref": "dir:."} if i % 3 == 0 else {},
                },
                "spec": {
                    "type": TYPES[i % len(TYPES)],
                    "lifecycle": LIFECYCLES[i % len(LIFECYCLES)],
                    "owner": f"team-{i % teams}",
                    "system": f"system-{i % systems}",
                    "dependsOn": [f"component:{WORDS[(i + 1) % len(WORDS)]}-{max(0, i - 7)}"],
                },
            }
        elif kind_roll < 9:
            doc = {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "API",
                "metadata": {"name": f"{word}-api-{i}", "tags": rng.sample(TAGS, 1)},
                "spec": {
                    "type": "openapi",
                    "lifecycle": LIFECYCLES[i % len(LIFECYCLES)],
                    "owner": f"team-{i % teams}",
                    "definition": "openapi: 3.0.0",
                },
            }
        else:
            doc = {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Resource",
                "metadata": {"name": f"{word}-db-{i}"},
                "spec": {"type": "database", "owner": f"team-{i % teams}"},
            }
        docs.append(doc)
        i += 1
    return docs


def component_name(n: int, count: int) -> str:
    """The name of a Component of `generated(count, …)`, spread over the catalog as `n` grows."""
    i = ((n * 37) % (count // 20)) * 10 + n % 7  # i % 10 < 7: a Component in `generated`
    return f"{WORDS[i % 10]}-{i}"
