"""Catalog API benchmarks; run with ``python tests/bench/bench_catalog_api.py [N ...]`` (not collected by pytest).

Seeds N entities through catalog.ingest (the real bulk writer) into a throwaway database created next to the one
DATABASE_URL names (SQLite when unset), then times ~200 requests per scenario through django.test.Client with a
logged-in user, and prints p50/p95. Targets on 2 cores with PostgreSQL: by-name p95 ≤ 15 ms; filtered by-query
and facets p95 ≤ 50 ms at 10k entities and ≤ 150 ms at 100k.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402

from catalog.descriptors import ParsedEntity, relations_for  # noqa: E402
from catalog.ingest import apply_location_read  # noqa: E402
from catalog.locations.walk import SourceRead  # noqa: E402
from catalog.models import Location  # noqa: E402
from tests.bench.catalog_data import WORDS, component_name, generated  # noqa: E402

REQUESTS = 200


def seed(count: int) -> float:
    rng = random.Random(20260327)
    docs = generated(count, rng)
    started = time.perf_counter()
    chunk = 5000
    for start in range(0, len(docs), chunk):
        location = Location.objects.create(type="file", target=f"/bench/catalog-{start}.yaml", trusted=True)
        parsed = [
            ParsedEntity(document=n, entity=doc, ref="", relations=tuple(relations_for(doc)))
            for n, doc in enumerate(docs[start : start + chunk])
        ]
        apply_location_read(location=location, sources=[SourceRead(location.key, True, parsed)])
    return time.perf_counter() - started


def measure(client: Client, make_url: Callable[[int], str], requests: int = REQUESTS) -> tuple[float, float]:
    client.get(make_url(0))  # warm caches and plans
    timings = []
    for n in range(requests):
        url = make_url(n)
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def run(count: int) -> None:
    seconds = seed(count)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    user = get_user_model().objects.create_user(username=f"bench-{count}", password="x")
    client = Client()
    client.force_login(user)
    base = "/api/catalog"
    filtered = 50 if count <= 10_000 else 150
    services = "filter=kind=component,spec.type=service&limit=20"
    scenarios: list[tuple[str, Callable[[int], str], float]] = [
        ("by-name", lambda n: f"{base}/entities/by-name/component/default/{component_name(n, count)}", 15),
        ("by-query kind=component,spec.type=service", lambda n: f"{base}/entities/by-query?{services}", filtered),
        (
            "by-query + orderField=metadata.name",
            lambda n: f"{base}/entities/by-query?{services}&orderField=metadata.name,asc",
            filtered,
        ),
        (
            "by-query fullText (name,title)",
            lambda n: (
                f"{base}/entities/by-query?fullTextFilterTerm={component_name(n, count)}"
                "&fullTextFilterFields=metadata.name,metadata.title&limit=20"
            ),
            0,
        ),
        (
            "by-query fullText (search text)",
            lambda n: f"{base}/entities/by-query?fullTextFilterTerm={WORDS[n % 10]}&limit=20",
            0,
        ),
        (
            "facets kind,spec.type,spec.lifecycle,tags",
            lambda n: f"{base}/entity-facets?facet=kind&facet=spec.type&facet=spec.lifecycle&facet=metadata.tags",
            filtered,
        ),
        (
            "facets filtered kind=component",
            lambda n: f"{base}/entity-facets?facet=spec.type&facet=metadata.tags&filter=kind=component",
            filtered,
        ),
    ]
    try:
        list_url = reverse("catalog:entity_list")
        scenarios.append(("catalog list page (HTML)", lambda n: list_url, 0))
    except NoReverseMatch:
        pass
    print(f"\n{count} entities on {connection.vendor} (seeded in {seconds:.1f} s, {REQUESTS} requests each)")
    print(f"{'scenario':48} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for name, make_url, target in scenarios:
        p50, p95 = measure(client, make_url)
        verdict = "" if not target else ("ok" if p95 <= target else "MISSED")
        print(f"{name:48} {p50:8.1f} {p95:8.1f} {(f'≤{target:.0f}' if target else '-'):>8} {verdict}")


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]
    setup_test_environment()
    for count in counts:
        # A throwaway database per size beside the configured one, dropped at the end.
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            run(count)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
