"""Backstage's own example catalog, registered as two trusted file locations, must come out exactly as Backstage
would load it offline (PROVENANCE.md): 59 entities, every relation in both directions, three recorded errors."""

from __future__ import annotations

from collections import Counter

import pytest

from catalog import services
from catalog.models import Entity, Location, Relation
from portal.permissions import SYSTEM
from tests.paths import conformance_dir

EXAMPLES = conformance_dir()
INVERSE = {
    "ownedBy": "ownerOf",
    "partOf": "hasPart",
    "providesApi": "apiProvidedBy",
    "consumesApi": "apiConsumedBy",
    "dependsOn": "dependencyOf",
    "memberOf": "hasMember",
    "childOf": "parentOf",
}
INVERSE.update({v: k for k, v in INVERSE.items()})


@pytest.fixture
def examples(db, settings, django_capture_on_commit_callbacks):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(EXAMPLES)]
    settings.PAVED_CATALOG_ALLOWED_HOSTS = []
    with django_capture_on_commit_callbacks(execute=True):
        first = services.location_create(type="file", target=str(EXAMPLES / "all.yaml"), trusted=True, actor=SYSTEM)
        second = services.location_create(
            type="file", target=str(EXAMPLES / "acme-corp.yaml"), trusted=True, actor=SYSTEM
        )
    return first, second


def test_backstage_examples_yield_exactly_the_offline_entity_counts(examples):
    kinds = Counter(Entity.objects.exclude(name__startswith="generated-").values_list("kind", flat=True))

    assert kinds == {
        "Location": 8,
        "Group": 8,
        "User": 17,
        "Component": 13,
        "API": 6,
        "System": 3,
        "Domain": 3,
        "Resource": 1,
    }
    assert sum(kinds.values()) == 59
    assert Entity.objects.filter(kind="Location", name__startswith="generated-").count() == 2


def test_backstage_examples_have_every_relation_in_both_directions(examples):
    triples = set(Relation.objects.values_list("source_ref", "type", "target_ref"))

    missing = [(s, t, g) for s, t, g in triples if (g, INVERSE[t], s) not in triples]
    assert missing == []
    # PROVENANCE.md counts 166 rows with all 62 entities; the three offline APIs each take ownedBy + ownerOf away.
    assert Relation.objects.count() == 166 - 3 * 2
    # Group parent/children declare the same pair from both ends, hence fewer distinct triples than rows.
    assert len(triples) == 146


def test_backstage_examples_record_the_three_github_placeholders_as_errors(examples):
    first, _ = examples
    first.refresh_from_db()
    messages = [error["message"] for error in first.errors]

    assert len(messages) == 3
    for name in ("spotify", "wayback-archive", "wayback-search"):
        assert any(f"api:default/{name}" in m.lower() and "https://github.com/" in m for m in messages), messages
    assert all("host not allowed" in m for m in messages)


def test_backstage_examples_second_refresh_writes_nothing(examples):
    for location in Location.objects.all():
        result = services.location_refresh(location=location)
        assert (result.applied.created, result.applied.updated) == (0, 0)
        assert result.applied.unchanged > 0
