from __future__ import annotations

import urllib.parse
from unittest import mock

import pytest
import yaml
from django.urls import reverse

from catalog.models import Entity, Location
from tests.catalog.factories import ComponentDictFactory, LocationFactory, UserDictFactory, ingest
from tests.portal.factories import AdminFactory, UserFactory

# Backstage's catalog clients call these paths literally: the path under /api/catalog is the contract tested here.
BASE = "/api/catalog"


def test_entities_lists_with_relations_filter_fields_and_order(auth_client, api_catalog):
    response = auth_client.get(f"{BASE}/entities?filter=kind=component&order=desc:metadata.name")
    assert response.status_code == 200
    body = response.json()
    assert [e["metadata"]["name"] for e in body] == ["Petstore-Web", "payments", "billing"]
    payments = body[1]
    assert {
        "type": "ownedBy",
        "targetRef": "group:default/team-a",
        "target": {"kind": "group", "namespace": "default", "name": "team-a"},
    } in payments["relations"]
    assert payments["metadata"]["uid"]
    assert "Link" not in response


def test_entities_projection_keeps_only_the_fields(auth_client, api_catalog):
    body = auth_client.get(f"{BASE}/entities?filter=kind=api&fields=kind,metadata.name").json()
    assert body == [{"kind": "API", "metadata": {"name": "billing-api"}}]


def test_entities_link_header_leads_through_every_page(auth_client, api_catalog):
    url = f"{BASE}/entities?fields=metadata.name&limit=3&offset=0"
    names: list[str] = []
    while url:
        response = auth_client.get(url)
        assert response.status_code == 200
        names.extend(e["metadata"]["name"] for e in response.json())
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        if url:
            assert "offset=" not in url
            assert "after=" in url
            assert link.endswith('rel="next"')
    assert len(names) == Entity.objects.count() == len(set(names))


def test_entities_query_count_does_not_grow_with_page_size(auth_client, api_catalog, django_assert_max_num_queries):
    ingest([ComponentDictFactory(name=f"svc-{i}", owner="team-a") for i in range(40)])
    for limit in (1, 40):
        with django_assert_max_num_queries(6):  # session, user, page, relations (+ savepoints on some backends)
            assert len(auth_client.get(f"{BASE}/entities?limit={limit}").json()) == limit
        with django_assert_max_num_queries(7):
            assert (
                len(
                    auth_client.get(f"{BASE}/entities/by-query?limit={limit}&orderField=metadata.name,asc").json()[
                        "items"
                    ]
                )
                == limit
            )


def test_by_query_cursor_pagination_returns_everything_once(auth_client, api_catalog):
    response = auth_client.get(f"{BASE}/entities/by-query?limit=2&orderField=metadata.name,desc&fields=metadata.name")
    body = response.json()
    total = body["totalItems"]
    assert total == Entity.objects.count()
    assert "prevCursor" not in body["pageInfo"]
    names = [e["metadata"]["name"] for e in body["items"]]
    while body["pageInfo"].get("nextCursor"):
        cursor = urllib.parse.quote(body["pageInfo"]["nextCursor"])
        body = auth_client.get(f"{BASE}/entities/by-query?limit=2&cursor={cursor}&fields=metadata.name").json()
        assert body["totalItems"] == total
        assert body["pageInfo"]["prevCursor"]
        names.extend(e["metadata"]["name"] for e in body["items"])
    assert len(names) == total == len(set(names))
    assert names == sorted(names, key=str.lower, reverse=True)


def test_by_query_filter_and_full_text(auth_client, api_catalog):
    body = auth_client.get(f"{BASE}/entities/by-query?filter=kind=component,spec.type=service").json()
    assert sorted(e["metadata"]["name"] for e in body["items"]) == ["billing", "payments"]
    assert body["totalItems"] == 2
    assert body["pageInfo"] == {}
    text = auth_client.get(
        f"{BASE}/entities/by-query?fullTextFilterTerm=PETSTORE&fullTextFilterFields=metadata.name,metadata.title"
    ).json()
    assert [e["metadata"]["name"] for e in text["items"]] == ["Petstore-Web"]


def test_by_name_is_case_insensitive_and_404s_in_backstage_shape(auth_client, api_catalog):
    response = auth_client.get(f"{BASE}/entities/by-name/COMPONENT/Default/petstore-web")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "Petstore-Web"
    missing = auth_client.get(f"{BASE}/entities/by-name/component/default/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "name": "NotFoundError",
            "message": "No entity named 'nope' found, with kind 'component' in namespace 'default'",
        },
        "request": {"method": "GET", "url": f"{BASE}/entities/by-name/component/default/nope"},
        "response": {"statusCode": 404},
    }


def test_by_uid_get_and_processing_errors_as_status(auth_client, api_catalog):
    entity = Entity.objects.get(name="billing")
    Entity.objects.filter(pk=entity.pk).update(errors=[{"message": "spec.owner: expected a string"}])
    body = auth_client.get(f"{BASE}/entities/by-uid/{entity.uid}").json()
    assert body["metadata"]["name"] == "billing"
    assert body["status"]["items"][0]["level"] == "error"
    assert body["status"]["items"][0]["type"] == "backstage.io/catalog-processing"
    assert "expected a string" in body["status"]["items"][0]["message"]


def test_delete_by_uid_allowed_for_owner_group_members_and_admins_only(client_for, api_catalog):
    entity = Entity.objects.get(name="billing")  # owned by team-a; alice is a member
    assert client_for("bob").delete(f"{BASE}/entities/by-uid/{entity.uid}").status_code == 403
    assert client_for("alice").delete(f"{BASE}/entities/by-uid/{entity.uid}").status_code == 204
    assert not Entity.objects.filter(pk=entity.pk).exists()
    other = Entity.objects.get(name="Petstore-Web")
    AdminFactory(username="root")
    assert client_for("root").delete(f"{BASE}/entities/by-uid/{other.uid}").status_code == 204


def test_by_refs_keeps_request_order_with_nulls(auth_client, api_catalog, django_assert_max_num_queries):
    refs = ["component:default/payments", "component:default/nope", "Component:Default/Petstore-Web", "bad::ref"]
    with django_assert_max_num_queries(6):
        response = auth_client.post(
            f"{BASE}/entities/by-refs",
            {"entityRefs": refs, "fields": ["metadata.name"]},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"metadata": {"name": "payments"}}, None, {"metadata": {"name": "Petstore-Web"}}, None]
    }
    filtered = auth_client.post(
        f"{BASE}/entities/by-refs?filter=spec.type=website", {"entityRefs": refs[:3]}, content_type="application/json"
    ).json()
    assert [item and item["metadata"]["name"] for item in filtered["items"]] == [None, None, "Petstore-Web"]


def test_facets_count_in_original_case_and_respect_filters(auth_client, api_catalog):
    body = auth_client.get(f"{BASE}/entity-facets?facet=kind&facet=metadata.name&filter=kind=component").json()
    assert body["facets"]["kind"] == [{"value": "Component", "count": 3}]
    assert {"value": "Petstore-Web", "count": 1} in body["facets"]["metadata.name"]
    tags = auth_client.get(f"{BASE}/entity-facets?facet=metadata.tags").json()["facets"]["metadata.tags"]
    assert sorted((t["value"], t["count"]) for t in tags) == [("frontend", 1), ("java", 1), ("python", 1)]


def test_facets_query_count_is_constant(auth_client, api_catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        auth_client.get(f"{BASE}/entity-facets?facet=kind&facet=spec.type&facet=spec.lifecycle&facet=metadata.tags")


def test_locations_list_get_by_entity(auth_client, api_catalog):
    listing = auth_client.get(f"{BASE}/locations").json()
    assert listing == [{"data": {"id": str(api_catalog.pk), "type": "file", "target": api_catalog.target}}]
    assert auth_client.get(f"{BASE}/locations/{api_catalog.pk}").json()["target"] == api_catalog.target
    by_entity = auth_client.get(f"{BASE}/locations/by-entity/component/default/billing")
    assert by_entity.json()["id"] == str(api_catalog.pk)
    assert auth_client.get(f"{BASE}/locations/by-entity/component/default/nope").status_code == 404


@pytest.fixture
def file_root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = tmp_path / "catalog-info.yaml"
    path.write_text(yaml.safe_dump_all([ComponentDictFactory(name="from-file", owner="team-a")]))
    return path


def test_create_location_dry_run_then_for_real_then_conflict(
    auth_client, db, file_root, django_capture_on_commit_callbacks
):
    dry = auth_client.post(
        f"{BASE}/locations?dryRun=true", {"type": "file", "target": str(file_root)}, content_type="application/json"
    )
    assert dry.status_code == 201, dry.json()
    assert dry.json()["exists"] is False
    assert {e["metadata"]["name"] for e in dry.json()["entities"]} >= {"from-file"}
    assert not Location.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        created = auth_client.post(
            f"{BASE}/locations", {"type": "file", "target": str(file_root)}, content_type="application/json"
        )
    assert created.status_code == 201
    location_id = created.json()["location"]["id"]
    assert Entity.objects.filter(name="from-file", location_id=location_id).exists()
    duplicate = auth_client.post(
        f"{BASE}/locations", {"type": "file", "target": str(file_root)}, content_type="application/json"
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["name"] == "ConflictError"
    assert auth_client.delete(f"{BASE}/locations/{location_id}").status_code == 204
    assert not Entity.objects.filter(name="from-file").exists()


def test_delete_location_registered_by_someone_else_is_forbidden(auth_client, db):
    location = LocationFactory(created_by=UserFactory(username="someone"))
    response = auth_client.delete(f"{BASE}/locations/{location.pk}")
    assert response.status_code == 403
    assert Location.objects.filter(pk=location.pk).exists()


def test_refresh_enqueues_the_location_that_manages_the_entity(auth_client, api_catalog):
    with mock.patch("catalog.services.location_refresh_request") as refresh:
        response = auth_client.post(
            f"{BASE}/refresh", {"entityRef": "component:default/billing"}, content_type="application/json"
        )
    assert response.status_code == 200
    assert refresh.call_args.kwargs["location"].pk == api_catalog.pk
    assert (
        auth_client.post(
            f"{BASE}/refresh", {"entityRef": "component:default/nope"}, content_type="application/json"
        ).status_code
        == 404
    )


def test_validate_entity_ok_and_errors_in_backstage_shape(auth_client, db):
    ok = auth_client.post(
        f"{BASE}/validate-entity",
        {"entity": ComponentDictFactory(name="fine"), "location": "url:https://example.com/catalog.yaml"},
        content_type="application/json",
    )
    assert ok.status_code == 200
    bad = ComponentDictFactory(name="fine")
    bad["metadata"]["name"] = "not a name!"
    response = auth_client.post(
        f"{BASE}/validate-entity", {"entity": bad, "location": "url:https://h/x.yaml"}, content_type="application/json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors
    assert all(set(e) == {"name", "message"} for e in errors)
    assert any("metadata.name" in e["message"] for e in errors)


def test_kinds_and_kind_schema(auth_client, api_catalog):
    kinds = {k["kind"]: k for k in auth_client.get(f"{BASE}/kinds").json()}
    assert kinds["Component"]["count"] == 3
    schema = auth_client.get(f"{BASE}/kinds/component/schema").json()
    assert "properties" in schema
    assert auth_client.get(f"{BASE}/kinds/nope/schema").status_code == 404


def test_api_requires_authentication(client, api_catalog):
    response = client.get(f"{BASE}/entities")
    assert response.status_code == 401
    assert response.json()["error"]["name"] == "AuthenticationError"


def test_user_entity_is_found_by_email_too(auth_client, api_catalog):
    ingest([UserDictFactory(name="carol", member_of=[])], location=api_catalog)
    assert auth_client.get(f"{BASE}/entities/by-name/user/default/carol").status_code == 200


def test_schema_documents_the_catalog_endpoints(auth_client, db):
    schema = auth_client.get(reverse("api_schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/catalog/entities/by-query" in text
    assert "GetEntityFacets" in text
