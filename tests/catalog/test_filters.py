"""The catalog page and the API answer the same filter the same way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.http import QueryDict
from django.urls import reverse

from catalog import query
from catalog.filters import EntityFilterSet
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, ingest, new_location, seed_org

LIST = reverse("catalog:entity_list")
BY_QUERY = reverse("catalog_api:entities_by_query")


def _seed() -> None:
    seed_org()
    batch = ComponentDictFactory(name="nightly-billing", owner="group:ops/sre", lifecycle="experimental")
    batch["metadata"].update(
        {"namespace": "ops", "description": "Sends the money to the bank", "tags": ["python", "batch"]}
    )
    batch["spec"]["type"] = "Batch"
    sre = GroupDictFactory(name="sre")
    sre["metadata"]["namespace"] = "ops"
    result = ingest([sre, batch], location=new_location(trusted=True))
    assert not result.errors, result.errors


def _page_refs(client: Any, params: dict[str, Any]) -> list[str]:
    response = client.get(LIST, {**params, "size": "100"})
    assert response.status_code == 200
    return sorted(re.findall(r'<tr data-ref="([^"]+)"', response.content.decode()))


def _api_refs(client: Any, params: dict[str, Any]) -> list[str]:
    response = client.get(BY_QUERY, {**params, "fields": "kind,metadata.namespace,metadata.name", "limit": "1000"})
    assert response.status_code == 200
    items = response.json()["items"]
    return sorted(f"{e['kind']}:{e['metadata']['namespace']}/{e['metadata']['name']}".lower() for e in items)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "api", "expected"),
    [
        (
            {"owner": "Group:Default/Frontend"},
            {"filter": "relations.ownedBy=group:default/frontend"},
            ["component:default/web"],
        ),
        (
            {"owner": ["group:ops/sre", "group:default/frontend"]},
            {"filter": "relations.ownedBy=group:ops/sre,relations.ownedBy=group:default/frontend"},
            ["component:default/web", "component:ops/nightly-billing"],
        ),
        (
            {"tag": "PYTHON"},
            {"filter": "metadata.tags=python"},
            ["component:default/checkout", "component:ops/nightly-billing"],
        ),
        ({"type": "batch"}, {"filter": "spec.type=Batch"}, ["component:ops/nightly-billing"]),
        (
            {"kind": "component", "lifecycle": "production", "system": "system:default/shop"},
            {"filter": "kind=Component,spec.lifecycle=production,relations.partOf=system:default/shop"},
            ["component:default/checkout", "component:default/ledger"],
        ),
        (
            {"namespace": "ops"},
            {"filter": "metadata.namespace=OPS"},
            ["component:ops/nightly-billing", "group:ops/sre"],
        ),
        # Full text with several words: the text as typed is one term, in the page's box as in fullTextFilterTerm.
        (
            {"q": "the money"},
            {"fullTextFilterTerm": "the money"},
            ["component:ops/nightly-billing", "component:default/checkout"],
        ),
        ({"q": " Take PAYMENTS "}, {"fullTextFilterTerm": "take payments"}, ["api:default/payments-api"]),
        ({"q": "money the"}, {"fullTextFilterTerm": "money the"}, []),
        (
            {"kind": "Component", "tag": "python", "q": "money"},
            {"filter": "kind=component,metadata.tags=python", "fullTextFilterTerm": "money"},
            ["component:default/checkout", "component:ops/nightly-billing"],
        ),
        (
            {"owner": "group:default/payments", "tag": "typescript"},
            {"filter": "relations.ownedBy=group:default/payments,metadata.tags=typescript"},
            [],
        ),
    ],
)
def test_page_and_api_list_the_same_entities_for_the_same_filter(auth_client, page, api, expected):
    _seed()
    assert _page_refs(auth_client, page) == _api_refs(auth_client, api) == sorted(expected)


def test_page_facets_build_the_filter_the_api_parses():
    params = QueryDict(
        "kind=Component&owner=Group:Default/Payments&owner=group:ops/sre&type=Service&lifecycle=production"
        "&tag=Python&system=system:default/shop&namespace=default&q=+Take%20Payments+"
    )
    filterset = EntityFilterSet(params, queryset=Entity.objects.none())
    assert filterset.entity_filter == query.parse_filter(
        [
            "kind=component,relations.ownedBy=group:default/payments,relations.ownedBy=group:ops/sre,"
            "spec.type=service,spec.lifecycle=production,metadata.tags=python,relations.partOf=system:default/shop,"
            "metadata.namespace=default"
        ]
    )
    assert filterset.full_text == query.parse_full_text("take payments", [])


def test_page_without_facets_has_no_filter():
    filterset = EntityFilterSet(QueryDict("orphan=true&sort=-name"), queryset=Entity.objects.none())
    assert filterset.entity_filter == ()
    assert filterset.full_text == query.FullText()


@pytest.mark.parametrize(
    ("sort", "ordering"),
    [
        ("", ["name", "kind", "namespace"]),
        ("-name", ["-name", "kind", "namespace"]),
        ("owner", ["owner_ref", "name", "kind"]),
        ("-updated", ["-updated_at", "-id"]),
        ("drop table", ["name", "kind", "namespace"]),  # refused (the page says so), listed by name all the same
    ],
)
def test_sort_orders_with_tie_breakers(sort, ordering):
    filterset = EntityFilterSet(QueryDict(f"sort={sort}"), queryset=Entity.objects.all())
    assert list(filterset.qs.query.order_by) == ordering
    assert ("sort" in filterset.errors) == (sort == "drop table")
