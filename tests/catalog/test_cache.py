"""Counts and facets cached per catalog version: the version moves with every catalog write (by trigger, in the
write's own transaction), and the next answer after a committed write — from any connection — is the new one.

These tests commit (transaction=True): a rolled-back test transaction would hide what other connections see.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.test import Client

from catalog import cache as catalog_cache
from catalog import query, selectors, services
from catalog.models import Entity, Relation, SearchEntry
from tests.catalog.factories import ComponentDictFactory, ingest, new_location
from tests.portal.factories import AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/catalog"
PRODUCTION = query.parse_filter(["kind=component,spec.lifecycle=production"])


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _components(count: int, *, lifecycle: str = "production", prefix: str = "svc") -> list[dict[str, Any]]:
    return [ComponentDictFactory(name=f"{prefix}-{i}", lifecycle=lifecycle) for i in range(count)]


def _admin() -> User:
    return cast(User, AdminFactory())


def _version() -> int:
    version = catalog_cache.catalog_version()
    assert version is not None
    return version


def _in_another_connection(work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own: Django gives it its own database connection, which commits on its own."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def test_every_kind_of_catalog_write_moves_the_version():
    location = new_location()
    start = _version()
    ingest(_components(3), location=location)
    after_ingest = _version()
    assert after_ingest > start

    entity = Entity.objects.get(name="svc-0")
    services.entity_delete(entity=entity, actor=_admin())
    after_delete = _version()
    assert after_delete > after_ingest

    # Rows of each catalog table written on their own, as a future write path or a manual fix might.
    Relation.objects.filter(source_ref="component:default/svc-1").update(type="ownedBy")
    after_relation = _version()
    assert after_relation > after_delete
    SearchEntry.objects.filter(entity__name="svc-1", key="spec.lifecycle").update(value="experimental")
    after_search = _version()
    assert after_search > after_relation
    Entity.objects.filter(name="svc-1").update(orphan=True)
    after_orphan = _version()
    assert after_orphan > after_search

    services.location_delete(location=location, actor=_admin())
    assert _version() > after_orphan


def test_a_read_changes_nothing():
    ingest(_components(2))
    version = _version()
    assert query.count_matching(PRODUCTION) == 2
    selectors.entity_facets(facets=["spec.type"])
    assert _version() == version


def test_a_cached_count_is_answered_with_one_query(django_assert_num_queries):
    ingest(_components(4))
    assert query.count_matching(PRODUCTION) == 4
    with django_assert_num_queries(1):  # the version; the count comes from the cache
        assert query.count_matching(PRODUCTION) == 4
    selectors.entity_facets(facets=["spec.lifecycle"])
    with django_assert_num_queries(1):
        assert selectors.entity_facets(facets=["spec.lifecycle"]) == {
            "spec.lifecycle": [{"value": "production", "count": 4}]
        }
    # Another question is another entry.
    assert query.count_matching(query.parse_filter(["spec.lifecycle=experimental"])) == 0


def test_a_write_committed_by_another_connection_changes_the_next_answer():
    location = new_location()
    ingest(_components(5), location=location)
    assert query.count_matching(PRODUCTION) == 5
    assert selectors.entity_facets(facets=["spec.lifecycle"])["spec.lifecycle"] == [{"value": "production", "count": 5}]

    def refresh_elsewhere() -> None:
        assert connection.vendor  # this thread's own connection
        ingest(_components(3, lifecycle="experimental", prefix="new"), location=new_location())
        services.entity_delete(entity=Entity.objects.get(name="svc-0"), actor=_admin())

    _in_another_connection(refresh_elsewhere)

    assert query.count_matching(PRODUCTION) == 4
    assert selectors.entity_facets(facets=["spec.lifecycle"])["spec.lifecycle"] == [
        {"value": "production", "count": 4},
        {"value": "experimental", "count": 3},
    ]


def test_uncommitted_writes_of_the_reading_transaction_are_counted():
    ingest(_components(2))
    assert query.count_matching(PRODUCTION) == 2
    with transaction.atomic():
        ingest(_components(3, prefix="more"))
        # PostgreSQL: this transaction's writes are in no version yet, so the cache is bypassed; SQLite: the version
        # moved inside the transaction. Either way the answer includes what this transaction wrote.
        assert query.count_matching(PRODUCTION) == 5
        if connection.vendor == "postgresql":
            assert catalog_cache.catalog_version() is None
        transaction.set_rollback(True)
    assert query.count_matching(PRODUCTION) == 2


def test_api_total_items_and_facets_follow_a_delete(client_for):
    AdminFactory(username="root")
    client: Client = client_for("root")
    ingest(_components(3))
    url = f"{BASE}/entities/by-query?filter=kind=component,spec.lifecycle=production&limit=1"
    assert client.get(url).json()["totalItems"] == 3
    facets_url = f"{BASE}/entity-facets?facet=spec.lifecycle"
    assert client.get(facets_url).json()["facets"]["spec.lifecycle"] == [{"value": "production", "count": 3}]
    uid = Entity.objects.get(name="svc-2").uid
    assert client.delete(f"{BASE}/entities/by-uid/{uid}").status_code == 204
    assert client.get(url).json()["totalItems"] == 2
    assert client.get(facets_url).json()["facets"]["spec.lifecycle"] == [{"value": "production", "count": 2}]


def test_catalog_list_counts_follow_a_write(client_for):
    AdminFactory(username="root")
    client: Client = client_for("root")
    ingest(_components(2))
    first = client.get("/catalog/?kind=component")
    assert first.context["listing"].page.paginator.count == 2
    lifecycles = {f.name: f for f in first.context["listing"].facets}["lifecycle"]
    assert [(v.value, v.count) for v in lifecycles.values] == [("production", 2)]

    _in_another_connection(lambda: ingest(_components(1, lifecycle="experimental", prefix="late")))

    second = client.get("/catalog/?kind=component&page=1&sort=-name")
    listing = second.context["listing"]
    assert listing.page.paginator.count == 3
    lifecycles = {f.name: f for f in listing.facets}["lifecycle"]
    assert [(v.value, v.count) for v in lifecycles.values] == [("production", 2), ("experimental", 1)]
    assert [entity.name for entity in listing.page.object_list] == ["svc-1", "svc-0", "late-0"]


def test_hostile_questions_are_answered_and_only_their_hash_is_a_key():
    # The cache keys never hold request text: a hostile filter only changes the hashed question.
    hostile = query.parse_filter(["kind=" + "x" * 900 + "'; DROP TABLE catalog_entity; --"])
    assert query.count_matching(hostile) == 0
    assert selectors.entity_facets(facets=["kind"], entity_filter=hostile) == {"kind": []}


class _BrokenCache:
    """A shared cache that stopped answering (Redis down): every call raises."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis: connection refused")

    set = add = delete = get


def test_a_cache_that_is_down_is_bypassed_and_every_answer_is_still_right(monkeypatch):
    ingest(_components(3))
    monkeypatch.setattr(catalog_cache, "cache", _BrokenCache())
    assert query.count_matching(PRODUCTION) == 3
    assert selectors.entity_facets(facets=["spec.lifecycle"]) == {
        "spec.lifecycle": [{"value": "production", "count": 3}]
    }
    ingest(_components(1, prefix="more"), location=new_location())
    assert query.count_matching(PRODUCTION) == 4


def test_keys_name_the_database_so_installations_sharing_a_redis_never_read_each_others_answers(settings):
    key = catalog_cache._key(7, "count", "q")
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    try:
        settings_dict["NAME"] = f"{original}-other"
        other = catalog_cache._key(7, "count", "q")
    finally:
        settings_dict["NAME"] = original
    assert key != other
    assert key.startswith("paved:catalog:v7:")
    assert other.startswith("paved:catalog:v7:")
