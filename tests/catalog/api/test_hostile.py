"""Hostile and malformed input to /api/catalog/: always a 4xx in Backstage's error shape, never a 500."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import pytest

from catalog.models import Location

# Backstage's catalog clients call these paths literally: the path under /api/catalog is the contract tested here.
BASE = "/api/catalog"


def assert_input_error(response, *, status: int = 400, mentions: str = "") -> None:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) >= {"error", "response"}
    assert body["response"]["statusCode"] == status
    assert body["error"]["name"]
    assert body["error"]["message"]
    assert mentions.lower() in body["error"]["message"].lower()


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("filter==x", "not a valid statement"),
        ("filter=,=,", "not a valid statement"),
        ("filter=kind=a,%20=b", "not a valid statement"),
        ("filter=metadata.name=" + "x" * 10_000, "longer than"),
        ("filter=" + "k" * 1000, "longer than"),
        ("&".join(["filter=kind=a"] * 500), "too many filter"),
        ("fields=relations[0]", "array type"),
        ("order=metadata.name", "order"),
        ("order=up:metadata.name", "order"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-5", "offset"),
        ("after=not-base64!!", "after cursor"),
        ("after=" + urllib.parse.quote("WyJ4Il0="), "after cursor"),  # base64 of ["x"]
        ("after=" + urllib.parse.quote("eyJsaW1pdCI6ICJ4In0="), "limit"),  # {"limit": "x"}
    ],
)
def test_entities_rejects_malformed_parameters(auth_client, api_catalog, query, mentions):
    assert_input_error(auth_client.get(f"{BASE}/entities?{query}"), mentions=mentions)


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("cursor=garbage", "cursor"),
        ("cursor=" + "x" * 30_000, "cursor"),
        ("limit=1001", "limit"),
        ("limit=1.5", "limit"),
        ("orderField=metadata.name,sideways", "asc"),
        ("fullTextFilterTerm=" + "x" * 500, "fulltextfilterterm"),
        ("filter==", "not a valid statement"),
    ],
)
def test_by_query_rejects_malformed_parameters(auth_client, api_catalog, query, mentions):
    assert_input_error(auth_client.get(f"{BASE}/entities/by-query?{query}"), mentions=mentions)


def test_by_query_rejects_a_tampered_cursor(auth_client, api_catalog):
    cursor = auth_client.get(f"{BASE}/entities/by-query?limit=1").json()["pageInfo"]["nextCursor"]
    payload, _, signature = cursor.rpartition(":")
    forged = f"{payload}:{signature[::-1]}"
    assert_input_error(
        auth_client.get(f"{BASE}/entities/by-query?cursor={urllib.parse.quote(forged)}"), mentions="cursor"
    )
    swapped = payload[::-1] + ":" + signature
    assert_input_error(
        auth_client.get(f"{BASE}/entities/by-query?cursor={urllib.parse.quote(swapped)}"), mentions="cursor"
    )


def test_by_name_with_unknown_kind_is_a_clear_404(auth_client, api_catalog):
    response = auth_client.get(f"{BASE}/entities/by-name/spaceship/default/enterprise")
    assert_input_error(response, status=404, mentions="not a kind this catalog knows")


def test_by_name_with_overlong_parts_is_400(auth_client, api_catalog):
    assert_input_error(auth_client.get(f"{BASE}/entities/by-name/component/default/{'x' * 300}"), mentions="name")


@pytest.mark.parametrize("uid", ["not-a-uuid", "1234", "' OR 1=1 --"])
def test_invalid_uid_is_400(auth_client, api_catalog, uid):
    quoted = urllib.parse.quote(uid)
    assert_input_error(auth_client.get(f"{BASE}/entities/by-uid/{quoted}"), mentions="uuid")
    assert_input_error(auth_client.delete(f"{BASE}/entities/by-uid/{quoted}"), mentions="uuid")


def test_unknown_uid_is_404(auth_client, api_catalog):
    assert_input_error(auth_client.get(f"{BASE}/entities/by-uid/{uuid.uuid4()}"), status=404, mentions="uid")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"entityRefs": "component:default/a"}, "entityRefs"),
        ({"entityRefs": [1, 2]}, "entityRefs"),
        ({"entityRefs": [None]}, "entityRefs"),
        ({"entityRefs": ["component:default/a"] * 1001}, "entityRefs"),
        ({"entityRefs": ["x" * 2000]}, "entityRefs"),
        ({}, "entityRefs"),
        ({"entityRefs": [], "fields": "kind"}, "fields"),
        ({"entityRefs": [], "fields": ["relations[0]"]}, "array type"),
        ([1, 2, 3], "json object"),
    ],
)
def test_by_refs_rejects_bad_bodies(auth_client, api_catalog, body, mentions):
    response = auth_client.post(f"{BASE}/entities/by-refs", body, content_type="application/json")
    assert_input_error(response, mentions=mentions)


def test_by_refs_rejects_malformed_json(auth_client, api_catalog):
    response = auth_client.post(f"{BASE}/entities/by-refs", "{not json", content_type="application/json")
    assert_input_error(response)


def test_by_refs_accepts_a_full_client_chunk(auth_client, api_catalog):
    refs = [f"component:default/c{i}" for i in range(1000)]
    response = auth_client.post(f"{BASE}/entities/by-refs", {"entityRefs": refs}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["items"] == [None] * 1000


@pytest.mark.parametrize(
    "query",
    ["", "facet=", "&".join(f"facet=f{i}" for i in range(30)), "facet=" + "k" * 500, "facet=kind&filter==x"],
)
def test_facets_reject_missing_or_excessive_facets(auth_client, api_catalog, query):
    assert_input_error(auth_client.get(f"{BASE}/entity-facets?{query}"))


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"type": "ftp", "target": "ftp://example.com/x.yaml"}, "type"),
        ({"type": "url", "target": "file:///etc/passwd"}, "http"),
        ({"type": "url", "target": "javascript:alert(1)"}, "http"),
        ({"type": "file", "target": "file:///etc/passwd"}, "path, not a url"),
        ({"type": "file", "target": "javascript:alert(1)"}, "path, not a url"),
        ({"type": "file", "target": "/etc/passwd"}, ""),
        ({"type": "url", "target": "http://127.0.0.1/catalog.yaml"}, ""),
        ({"type": "url", "target": "https://a.example\n.com/x"}, "control"),
        ({"type": "url", "target": 12}, "target"),
        ({"type": "url", "target": "https://example.com/" + "a" * 3000}, "target"),
        ({"target": "https://example.com/x.yaml"}, "type"),
        ({}, "type"),
        ('"just a string"', "json object"),
    ],
)
def test_create_location_rejects_bad_types_and_targets(auth_client, db, settings, tmp_path, body, mentions):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    for dry_run in ("true", "false"):
        response = auth_client.post(f"{BASE}/locations?dryRun={dry_run}", body, content_type="application/json")
        assert 400 <= response.status_code < 500, response.content[:300]
        assert_input_error(response, status=response.status_code, mentions=mentions)
    assert not Location.objects.exists()


def test_create_location_rejects_a_garbage_dry_run_flag(auth_client, db):
    response = auth_client.post(
        f"{BASE}/locations?dryRun=maybe", {"type": "url", "target": "https://e.com/x"}, content_type="application/json"
    )
    assert_input_error(response, mentions="dryRun")


@pytest.mark.parametrize("location_id", ["nope", "1", "00000000-0000-0000-0000-00000000000Z"])
def test_location_endpoints_reject_invalid_ids(auth_client, db, location_id):
    assert_input_error(auth_client.get(f"{BASE}/locations/{location_id}"), mentions="location id")
    assert_input_error(auth_client.delete(f"{BASE}/locations/{location_id}"), mentions="location id")


@pytest.mark.parametrize(
    "body",
    [{}, {"entityRef": 5}, {"entityRef": ""}, {"entityRef": "a:b:c/d"}, {"entityRef": "no-kind"}, ["x"]],
)
def test_refresh_rejects_bad_refs(auth_client, api_catalog, body):
    assert_input_error(auth_client.post(f"{BASE}/refresh", body, content_type="application/json"))


@pytest.mark.parametrize(
    "body",
    [
        "{broken",
        json.dumps([1, 2]),
        json.dumps({"entity": {}}),
        json.dumps({"entity": {}, "location": "nope"}),
        json.dumps({"entity": {}, "location": "ftp:x"}),
        json.dumps({"location": "url:https://e.com/x"}),
        json.dumps({"entity": "garbage", "location": "url:https://e.com/x"}),
        json.dumps({"entity": {"kind": 5, "metadata": [], "spec": None}, "location": "url:https://e.com/x"}),
        json.dumps({"entity": {"a": {"b": {"c": {"d": [[[[[]]]]]}}}}, "location": "url:https://e.com/x"}),
    ],
)
def test_validate_entity_answers_garbage_with_errors(auth_client, db, body):
    response = auth_client.post(f"{BASE}/validate-entity", body, content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors
    assert all(e["name"] and e["message"] for e in errors)


def test_query_parameter_errors_name_the_first_bad_parameter_in_backstage_shape(auth_client, api_catalog):
    response = auth_client.get(f"{BASE}/entities?limit=ten&filter==x")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "name": "InputError",
            "message": "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)",
        },
        "request": {"method": "GET", "url": f"{BASE}/entities?limit=ten&filter==x"},
        "response": {"statusCode": 400},
    }
    facets = auth_client.get(f"{BASE}/entity-facets?filter==x").json()
    assert facets["error"] == {
        "name": "InputError",
        "message": "Missing facet parameter: pass at least one, e.g. ?facet=kind",
    }


def test_by_query_with_a_cursor_ignores_the_question_parameters(auth_client, api_catalog):
    cursor = auth_client.get(f"{BASE}/entities/by-query?limit=1").json()["pageInfo"]["nextCursor"]
    response = auth_client.get(
        f"{BASE}/entities/by-query",
        {"cursor": cursor, "limit": "1", "filter": "=", "orderField": "x,sideways", "offset": "-1"},
    )
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1
