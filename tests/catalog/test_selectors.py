from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from catalog import query, selectors
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, ingest, new_location
from tests.portal.factories import UserFactory


def test_catalog_user_for_matches_username_then_email(api_catalog):
    assert selectors.user_entity_get(user=UserFactory(username="Alice")).name == "alice"
    by_email = UserFactory(username="builder", email="bob.builder@EXAMPLE.com")
    assert selectors.user_entity_get(user=by_email).name == "bob"
    assert selectors.user_entity_get(user=UserFactory(username="stranger", email="")) is None
    assert selectors.user_entity_get(user=AnonymousUser()) is None


def test_entities_json_fetches_relations_in_one_query(api_catalog, django_assert_num_queries):
    entities = list(Entity.objects.all())
    with django_assert_num_queries(1):
        rendered = selectors.entity_list_json(entities=entities)
    assert all("relations" in e for e in rendered)
    with django_assert_num_queries(0):
        selectors.entity_list_json(entities=entities, fields=["metadata.name"])


def test_entities_by_refs_keeps_order_and_normalises_refs(api_catalog):
    found = selectors.entities_by_refs(
        refs=["Component:billing", "nope", "component:default/payments", "component:billing"]
    )
    assert [e.name if e else None for e in found] == ["billing", None, "payments", "billing"]


def test_entity_facets_report_original_case(api_catalog):
    facets = selectors.entity_facets(facets=["kind", "metadata.name"])
    assert {"value": "Component", "count": 3} in facets["kind"]
    assert {"value": "Petstore-Web", "count": 1} in facets["metadata.name"]


def test_entity_facets_with_relation_and_orphan_filters(api_catalog):
    owned = selectors.entity_facets(
        facets=["kind"], entity_filter=query.parse_filter(["relations.ownedby=group:default/team-a"])
    )
    assert sorted((f["value"], f["count"]) for f in owned["kind"]) == [("API", 1), ("Component", 2)]
    Entity.objects.filter(name="payments").update(orphan=True)
    orphans = selectors.entity_facets(
        facets=["metadata.name"],
        entity_filter=query.parse_filter(["metadata.annotations.backstage.io/orphan"]),
    )
    assert orphans["metadata.name"] == [{"value": "payments", "count": 1}]


@pytest.mark.django_db
def test_entity_titles_read_as_pages_show_them_keyed_by_the_ref_as_given():
    titled = GroupDictFactory(name="payments")
    titled["metadata"]["title"] = "Payments & Billing"
    profiled = GroupDictFactory(name="search")
    profiled["spec"]["profile"] = {"displayName": "Catalog & Search"}
    result = ingest(
        [titled, profiled, GroupDictFactory(name="web"), ComponentDictFactory(name="shop")], location=new_location()
    )
    assert not result.errors, result.errors

    assert selectors.entity_titles(
        refs=["group:default/payments", "Group:Default/Search", "group:default/web", "group:default/ghosts", ""]
    ) == {
        "group:default/payments": "Payments & Billing",
        "Group:Default/Search": "Catalog & Search",
        "group:default/web": "web",
    }
    assert selectors.entity_titles(refs=[]) == {}
