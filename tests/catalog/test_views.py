from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Entity, Location
from tests.catalog.factories import (
    ApiDictFactory,
    ComponentDictFactory,
    LocationFactory,
    UserDictFactory,
    force_metadata,
    ingest,
    new_location,
    seed_components,
    seed_org,
    write_docs,
)
from tests.portal.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("catalog:entity_list")


def entity_page(kind: str, name: str, view: str = "entity_detail") -> str:
    """The URL of an entity's page (or of `view` for it) in the default namespace."""
    return reverse(f"catalog:{view}", args=["default", kind, name])


def html(response):
    return response.content.decode()


def is_fragment(response, dom_id: str) -> bool:
    """The response is the partial whose outermost element has `dom_id`, and nothing of the page around it."""
    text = html(response).lstrip()
    first_tag = text[: text.index(">") + 1] if ">" in text else ""
    return f'id="{dom_id}"' in first_tag and "<html" not in text and "<nav" not in text


def row_refs(response) -> list[str]:
    return re.findall(r'<tr data-ref="([^"]+)"', html(response))


# --- catalog list ---------------------------------------------------------------------------------------------


def test_entity_list_full_page_has_kind_tabs_facets_and_rows(auth_client):
    seed_org()
    response = auth_client.get(LIST)
    assert response.status_code == 200
    page = html(response)
    assert "<html" in page
    assert 'data-kind="component"' in page
    assert 'data-facet="owner"' in page
    assert 'data-facet="tag"' in page
    assert "component:default/checkout" in row_refs(response)
    assert 'hx-push-url="true"' in page


def test_entity_list_fragment_request_returns_only_the_results(htmx_client):
    seed_org()
    response = htmx_client.get(LIST, {"kind": "Component"})
    assert response.status_code == 200
    assert is_fragment(response, "catalog-results")
    assert sorted(row_refs(response)) == [
        "component:default/checkout",
        "component:default/ledger",
        "component:default/web",
    ]


def test_entity_list_combines_kind_and_owner_facets_case_insensitively(auth_client):
    seed_org()
    response = auth_client.get(LIST, {"kind": "component", "owner": "Group:Default/Payments"})
    assert sorted(row_refs(response)) == ["component:default/checkout", "component:default/ledger"]


def test_entity_list_facet_values_of_one_facet_are_ored(auth_client):
    seed_org()
    response = auth_client.get(LIST, {"kind": "Component", "lifecycle": ["production", "experimental"]})
    assert len(row_refs(response)) == 3


def test_entity_list_counts_each_facet_without_its_own_selection(auth_client):
    seed_org()
    page = html(auth_client.get(LIST, {"owner": "group:default/frontend"}))
    # The owner facet still offers payments with its full count, so the user can widen the selection.
    assert re.search(r'value="group:default/payments"[^>]*>\s*<span[^>]*>payments</span>\s*<span[^>]*>5</span>', page)


def test_entity_list_filters_by_tag_and_full_text(auth_client):
    seed_org()
    assert row_refs(auth_client.get(LIST, {"tag": "tier-1"})) == ["component:default/checkout"]
    # The text is one term, as the API's fullTextFilterTerm: it must appear as typed, whatever the case.
    assert row_refs(auth_client.get(LIST, {"q": " takes THE money "})) == ["component:default/checkout"]
    assert row_refs(auth_client.get(LIST, {"q": "take payments"})) == ["api:default/payments-api"]
    assert row_refs(auth_client.get(LIST, {"q": "payments take"})) == []


def test_entity_list_shows_orphan_and_error_markers_and_filters_orphans(auth_client):
    location = new_location()
    ingest([ComponentDictFactory(name="kept"), ComponentDictFactory(name="gone")], location=location)
    ingest([ComponentDictFactory(name="kept")], location=location)
    Entity.objects.filter(name="kept").update(errors=[{"message": "spec.owner: broken"}])
    response = auth_client.get(LIST, {"orphan": "true"})
    assert row_refs(response) == ["component:default/gone"]
    assert "orphan</span>" in html(response)
    page = html(auth_client.get(LIST, {"kind": "Component"}))
    assert "1 error</span>" in page
    assert row_refs(auth_client.get(LIST, {"error": "true"})) == ["component:default/kept"]
    assert "component:default/kept" not in row_refs(auth_client.get(LIST, {"error": "false"}))


def test_entity_list_marks_owner_missing_from_the_catalog(auth_client):
    ingest([ComponentDictFactory(name="lonely", owner="ghosts")], location=new_location(trusted=False))
    page = html(auth_client.get(LIST, {"kind": "Component"}))
    assert 'class="paved-missing" title="group:default/ghosts is not in the catalog"' in page


def test_entity_list_sorts_and_paginates(auth_client):
    seed_components(60)
    response = auth_client.get(LIST, {"kind": "Component", "sort": "-name", "size": "50"})
    refs = row_refs(response)
    assert len(refs) == 50
    assert refs[0] == "component:default/svc-0059"
    second = auth_client.get(LIST, {"kind": "Component", "sort": "-name", "size": "50", "page": "2"})
    assert row_refs(second) == [f"component:default/svc-{n:04d}" for n in range(9, -1, -1)]
    assert "Showing 51\u201360 of 60" in html(second)


def test_entity_list_ignores_unknown_page_size_and_out_of_range_page(auth_client):
    seed_components(30)
    response = auth_client.get(LIST, {"kind": "Component", "size": "100000", "page": "999"})
    assert response.status_code == 200
    assert len(row_refs(response)) == 5  # page size 25 -> last page


def test_entity_list_rejects_oversized_filter_values_with_400_and_says_why(auth_client):
    seed_org()
    response = auth_client.get(LIST, {"owner": "x" * 400, "sort": "drop table"})
    assert response.status_code == 400
    page = html(response)
    assert "Some filters were not applied" in page
    assert "at most 300 characters" in page
    assert "<code>sort</code>" in page


def test_entity_list_rejects_too_many_values_for_one_facet(auth_client):
    response = auth_client.get(LIST, {"tag": [f"t{n}" for n in range(30)]})
    assert response.status_code == 400
    assert "At most 20 values per filter" in html(response)


def test_entity_list_empty_state_offers_to_clear_filters(auth_client):
    seed_org()
    response = auth_client.get(LIST, {"q": "no-such-thing-anywhere"})
    page = html(response)
    assert "No entities match" in page
    assert 'id="clear-filters"' in page


def test_entity_list_empty_catalog_points_to_locations(auth_client):
    page = html(auth_client.get(LIST))
    assert "The catalog is empty" in page
    assert reverse("catalog:location_list") in page


@pytest.mark.parametrize("size", [25, 100])
def test_entity_list_query_count_does_not_grow_with_page_size(auth_client, django_assert_max_num_queries, size):
    seed_components(120)
    with django_assert_max_num_queries(16):
        response = auth_client.get(LIST, {"size": str(size), "owner": "group:default/payments", "tag": "tag-1"})
    assert response.status_code == 200
    assert len(row_refs(response)) == 24


# --- search ---------------------------------------------------------------------------------------------------


def test_search_fragment_lists_top_matches_with_kind_badges(htmx_client):
    seed_components(20)
    response = htmx_client.get(reverse("catalog:search"), {"q": "svc"})
    assert response.status_code == 200
    assert is_fragment(response, "search-results")
    assert html(response).count('role="option"') == 8
    assert "Component</span>" in html(response)


def test_search_ranks_exact_name_before_other_matches(htmx_client):
    seed_org()
    response = htmx_client.get(reverse("catalog:search"), {"q": "payments"})
    options = re.findall(r'role="option" href="([^"]+)"', html(response))
    assert options[0] == entity_page("group", "payments")
    assert entity_page("api", "payments-api") in options


def test_search_full_page_for_plain_request_and_empty_query(auth_client):
    seed_org()
    response = auth_client.get(reverse("catalog:search"), {"q": "python"})
    assert "<html" in html(response)
    assert entity_page("component", "checkout") in html(response)
    empty = auth_client.get(reverse("catalog:search"))
    assert "Type something to search" in html(empty)


def test_search_says_nothing_matches(htmx_client):
    response = htmx_client.get(reverse("catalog:search"), {"q": "zzz"})
    assert "No matches for “zzz”" in html(response)


def test_header_search_box_is_live_and_works_without_javascript(auth_client):
    page = html(auth_client.get(reverse("portal:home")))
    assert 'action="' + reverse("catalog:search") + '"' in page
    assert 'hx-get="' + reverse("catalog:search") + '"' in page
    assert 'hx-trigger="input changed delay:250ms, search"' in page


# --- entity page ----------------------------------------------------------------------------------------------


def test_entity_page_shows_about_relations_links_and_provenance(auth_client):
    seed_org()
    response = auth_client.get(entity_page("component", "checkout"))
    assert response.status_code == 200
    page = html(response)
    assert 'id="about-card"' in page
    assert "Takes the money.<br>Second line." in page
    assert '<a href="' + entity_page("group", "payments") + '"' in page  # owner
    assert '<a href="' + entity_page("system", "shop") + '"' in page
    assert 'href="https://runbooks.example.com/checkout" rel="noopener noreferrer"' in page
    assert 'href="https://git.example.com/shop/checkout" rel="noopener noreferrer" target="_blank">View source' in page
    assert "Edit source" not in page
    assert 'id="provenance-card"' in page
    assert reverse("catalog:location_detail", args=[Entity.objects.get(name="checkout").location_id]) in page


def test_entity_page_shows_missing_relation_targets_without_links(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("component", "checkout")))
    assert 'class="paved-missing" data-ref="resource:default/orders-db"' in page
    assert 'href="' + entity_page("resource", "orders-db") + '"' not in page


def test_entity_page_is_case_insensitive(auth_client):
    seed_org()
    response = auth_client.get(reverse("catalog:entity_detail", args=["Default", "Component", "CHECKOUT"]))
    assert response.status_code == 200
    assert "Checkout service" in html(response)


def test_entity_page_404_for_unknown_entity(auth_client):
    seed_org()
    response = auth_client.get(entity_page("component", "nope"))
    assert response.status_code == 404
    assert auth_client.get(entity_page("component", "nope", "entity_dependencies")).status_code == 404


def test_entity_page_yaml_tab_full_page_and_fragment(auth_client, htmx_client):
    seed_org()
    full = auth_client.get(entity_page("component", "checkout"), {"tab": "yaml"})
    assert "<html" in html(full)
    assert "kind: Component" in html(full)
    fragment = htmx_client.get(entity_page("component", "checkout"), {"tab": "yaml"})
    assert is_fragment(fragment, "entity-tab")
    assert 'id="raw-yaml"' in html(fragment)
    overview = htmx_client.get(entity_page("component", "checkout"))
    assert is_fragment(overview, "entity-tab")
    assert 'id="about-card"' in html(overview)


def test_entity_page_shows_processing_errors(auth_client):
    seed_org()
    Entity.objects.filter(name="checkout").update(
        errors=[{"message": "spec.owner must be a string", "path": "spec.owner", "file": "/srv/x.yaml"}]
    )
    page = html(auth_client.get(entity_page("component", "checkout")))
    assert 'id="entity-errors"' in page
    assert "spec.owner must be a string" in page


def test_api_page_lists_openapi_endpoints(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("api", "payments-api")))
    assert 'id="api-endpoints"' in page
    assert "<code>/payments/{id}</code>" in page
    assert "paved-method-delete" in page


def test_api_page_with_unreadable_definition_shows_text_and_a_note(auth_client):
    ingest(
        [ApiDictFactory(name="broken", owner="payments", openapi=True, definition="openapi: [unclosed\n  <b>bold</b>")],
        location=new_location(),
    )
    page = html(auth_client.get(entity_page("api", "broken")))
    assert "The definition could not be read" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page


def test_group_page_shows_members_sub_teams_and_owned_entities(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("group", "payments")))
    assert 'id="members-card"' in page
    assert 'href="mailto:alice@example.com"' in page
    assert '<a href="' + entity_page("group", "engineering") + '"' in page  # parent
    assert 'data-kind="component"' in page
    assert "Checkout service" in page
    parent = html(auth_client.get(entity_page("group", "engineering")))
    sub_teams = parent[parent.index('id="sub-teams"') :]
    assert re.search(r"payments</a></td><td[^>]*>2</td><td[^>]*>5</td><td[^>]*>0</td>", sub_teams)


def test_user_page_shows_profile_groups_and_what_their_groups_own(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("user", "alice")))
    assert 'id="profile-email"' in page
    assert 'href="mailto:alice@example.com"' in page
    assert 'id="groups-card"' in page
    owned = page[page.index('id="owned-card"') :]
    assert "Checkout service" in owned
    assert "payments-api" in owned


def test_entity_page_query_count_is_bounded(auth_client, django_assert_max_num_queries):
    seed_org()
    ingest([ComponentDictFactory(name=f"extra-{n}", owner="payments") for n in range(40)], location=new_location())
    for url in [
        entity_page("component", "checkout"),
        entity_page("group", "payments"),
        entity_page("user", "alice"),
    ]:
        # 12: a User page also reads its on-call shifts card (schedules, overrides, policies naming the user).
        with django_assert_max_num_queries(12):
            assert auth_client.get(url).status_code == 200


# --- hostile content ------------------------------------------------------------------------------------------


def test_entity_content_is_escaped_everywhere_and_javascript_links_are_dropped(auth_client, htmx_client):
    ingest([ComponentDictFactory(name="evil", owner="payments")], location=new_location())
    force_metadata(
        "evil",
        title="<script>alert('title')</script>",
        description="<img src=x onerror=alert(1)>\nline",
        tags=["xss", "<script>tag</script>"],
        labels={"team": "<script>label</script>"},
        links=[
            {"url": "javascript:alert(1)", "title": "<script>link</script>"},
            {"url": "https://ok.example.com", "title": "<b>fine</b>"},
            {"url": "data:text/html,<script>", "title": "data"},
            {"url": " https://space.example.com", "title": "leading space"},
        ],
        annotations={"backstage.io/edit-url": "javascript:alert(2)", "backstage.io/view-url": "vbscript:x"},
    )
    pages = [
        auth_client.get(entity_page("component", "evil")),
        auth_client.get(entity_page("component", "evil"), {"tab": "yaml"}),
        auth_client.get(LIST),
        auth_client.get(entity_page("component", "evil", "entity_dependencies")),
        htmx_client.get(reverse("catalog:search"), {"q": "evil"}),
        auth_client.get(reverse("catalog:search"), {"q": "<script>"}),
    ]
    for response in pages:
        page = html(response)
        assert response.status_code == 200
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<script>link" not in page
        assert "<script>label" not in page
        assert "<script>tag" not in page
        assert 'href="javascript:' not in page.lower()
        assert 'href="data:' not in page.lower()
        assert 'href="vbscript:' not in page.lower()
    detail = html(pages[0])
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt;<br>line" in detail
    assert 'href="https://ok.example.com" rel="noopener noreferrer"' in detail
    assert "&lt;b&gt;fine&lt;/b&gt;" in detail
    assert "Edit source" not in detail
    assert "View source" not in detail
    assert "space.example.com" not in detail


def test_search_query_is_escaped(htmx_client):
    response = htmx_client.get(reverse("catalog:search"), {"q": "<script>x</script>"})
    assert "<script>x" not in html(response)
    assert "&lt;script&gt;x&lt;/script&gt;" in html(response)


# --- orphans --------------------------------------------------------------------------------------------------


def orphan_setup() -> None:
    location = new_location(trusted=True)
    org = [
        UserDictFactory(name="alice", member_of=["payments"]),
        UserDictFactory(name="zed", member_of=["other"]),
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "payments"},
            "spec": {"type": "team", "children": []},
        },
    ]
    ingest([*org, ComponentDictFactory(name="old", owner="payments")], location=location)
    ingest(org, location=location)
    assert Entity.objects.get(name="old").orphan


def test_orphan_banner_offers_delete_to_owners(auth_client):
    orphan_setup()
    page = html(auth_client.get(entity_page("component", "old")))
    assert 'id="orphan-banner"' in page
    assert 'id="delete-orphan"' in page


def test_owner_deletes_orphan_and_lands_on_the_list(auth_client):
    orphan_setup()
    response = auth_client.post(entity_page("component", "old", "entity_delete"))
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert not Entity.objects.filter(name="old").exists()


def test_owner_deletes_orphan_over_htmx_with_client_redirect(htmx_client):
    orphan_setup()
    response = htmx_client.post(entity_page("component", "old", "entity_delete"))
    assert response.status_code == 200
    assert response["HX-Redirect"] == LIST


def test_non_owner_cannot_delete_orphan(client_for):
    orphan_setup()
    client = client_for("zed")
    page = html(client.get(entity_page("component", "old")))
    assert 'id="orphan-banner"' in page
    assert 'id="delete-orphan"' not in page
    response = client.post(entity_page("component", "old", "entity_delete"))
    assert response.status_code == 403
    assert Entity.objects.filter(name="old").exists()


def test_admin_may_delete_orphan(client_for):
    orphan_setup()
    AdminFactory(username="root")
    client = client_for("root")
    assert client.post(entity_page("component", "old", "entity_delete")).status_code == 302
    assert not Entity.objects.filter(name="old").exists()


def test_delete_requires_post(auth_client):
    orphan_setup()
    assert auth_client.get(entity_page("component", "old", "entity_delete")).status_code == 405


# --- dependencies ---------------------------------------------------------------------------------------------


def test_dependencies_page_draws_graph_and_lists_the_same_edges(auth_client):
    seed_org()
    response = auth_client.get(entity_page("component", "checkout", "entity_dependencies"))
    assert response.status_code == 200
    page = html(response)
    assert "<svg" in page
    assert 'class="paved-graph-node is-focus" data-ref="component:default/checkout"' in page
    assert 'class="paved-graph-node is-missing" data-ref="resource:default/orders-db"' in page
    assert '<a href="' + entity_page("api", "payments-api") + '">' in page
    table = page[page.index('id="dependency-table"') :]
    edge = r'data-source="([^"]+)" data-type="([^"]+)" data-target="([^"]+)"'
    drawn = set(re.findall(r'<g class="paved-graph-edge" ' + edge, page))
    listed = set(re.findall(r"<tr " + edge, table))
    assert drawn == listed
    assert len(drawn) == 7
    assert "component:default/web" in table  # second hop: the API's consumer


def test_dependencies_page_empty_state(auth_client):
    ingest(
        [
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Resource",
                "metadata": {"name": "db"},
                "spec": {"type": "database", "owner": "x"},
            }
        ],
        location=new_location(trusted=False),
    )
    Entity.objects.filter(name="db").update(owner_ref="")
    page = html(auth_client.get(entity_page("resource", "db", "entity_dependencies")))
    assert "<svg" in page  # ownedBy x is still a relation
    assert "group:default/x" in page


def test_dependencies_query_count_is_bounded(auth_client, django_assert_max_num_queries):
    seed_org()
    with django_assert_max_num_queries(8):
        assert auth_client.get(entity_page("component", "checkout", "entity_dependencies")).status_code == 200


# --- locations ------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client_for: Callable[..., Client]) -> Client:
    AdminFactory(username="root")
    return client_for("root")


@pytest.fixture
def admin_htmx_client(client_for: Callable[..., Client]) -> Client:
    AdminFactory(username="root2")
    return client_for("root2", htmx=True)


def test_every_member_may_register_a_location(auth_client):
    seed_org()
    response = auth_client.get(reverse("catalog:location_list"))
    assert response.status_code == 200
    page = html(response)
    assert 'id="location-table"' in page
    assert 'id="register-form"' in page
    assert "trusted</span>" in page


def test_location_list_fragment(htmx_client):
    seed_org()
    response = htmx_client.get(reverse("catalog:location_list"))
    assert is_fragment(response, "location-table")


def test_staff_sees_the_register_form(admin_client):
    page = html(admin_client.get(reverse("catalog:location_list")))
    assert 'id="register-form"' in page
    assert "No locations yet" in page


def test_members_cannot_unregister_someone_elses_location_or_change_trust(auth_client):
    location = seed_org()
    page = html(auth_client.get(reverse("catalog:location_detail", args=[location.pk])))
    assert 'id="unregister-link"' not in page
    assert 'id="trust-button"' not in page
    assert 'id="refresh-button"' in page
    assert auth_client.post(reverse("catalog:location_delete", args=[location.pk])).status_code == 403
    assert auth_client.get(reverse("catalog:location_delete", args=[location.pk])).status_code == 403
    assert (
        auth_client.post(reverse("catalog:location_trust", args=[location.pk]), {"trusted": "false"}).status_code == 403
    )
    assert Location.objects.filter(pk=location.pk, trusted=True).exists()
    assert Location.objects.count() == 1


def test_dry_run_preview_lists_entities_and_writes_nothing(admin_htmx_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing"), {"kind": "Component"}])
    response = admin_htmx_client.post(reverse("catalog:location_preview"), {"type": "file", "target": str(path)})
    assert response.status_code == 200
    assert is_fragment(response, "location-preview")
    page = html(response)
    assert "billing" in page
    assert 'id="preview-issues"' in page
    assert Location.objects.count() == 0
    assert not Entity.objects.exists()


def test_dry_run_preview_full_page_without_javascript(admin_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    response = admin_client.post(reverse("catalog:location_preview"), {"type": "file", "target": str(path)})
    assert "<html" in html(response)
    assert 'id="preview-entities"' in html(response)
    assert f'value="{path}"' in html(response)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"type": "ftp", "target": "/x"}, "Unknown location type"),
        ({"type": "file", "target": ""}, "A location needs a target"),
        ({"type": "url", "target": "javascript:alert(1)"}, ""),
        ({"type": "file", "target": "/etc/passwd"}, ""),
    ],
)
def test_preview_refuses_bad_locations_with_400_and_a_reason(admin_htmx_client, form, message):
    response = admin_htmx_client.post(reverse("catalog:location_preview"), form)
    assert response.status_code == 400
    page = html(response)
    assert 'id="preview-errors"' in page
    assert message in page
    assert Location.objects.count() == 0


def test_staff_registers_location_and_is_sent_to_it(
    admin_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("catalog:location_create"), {"type": "file", "target": str(path)})
    location = Location.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:location_detail", args=[location.pk])
    assert len(callbacks) == 1  # the first refresh is enqueued


def test_registering_a_duplicate_says_it_exists(admin_htmx_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    LocationFactory(type="file", target=str(path))
    response = admin_htmx_client.post(reverse("catalog:location_create"), {"type": "file", "target": str(path)})
    assert response.status_code == 409
    assert is_fragment(response, "location-preview")
    assert "already exists" in html(response)
    assert Location.objects.count() == 1


def test_location_detail_shows_errors_conflicts_and_paginated_entities(auth_client, htmx_client):
    first = new_location()
    ingest([ComponentDictFactory(name=f"c{n:02d}") for n in range(30)], location=first)
    second = new_location()
    ingest([ComponentDictFactory(name="c01")], location=second)
    page = html(auth_client.get(reverse("catalog:location_detail", args=[second.pk])))
    assert 'id="location-errors"' in page
    assert "1 conflict" in page
    assert "Conflict: component:default/c01 is already managed by location" in page
    first_page = html(auth_client.get(reverse("catalog:location_detail", args=[first.pk])))
    assert "Page 1 of 2" in first_page
    fragment = htmx_client.get(reverse("catalog:location_detail", args=[first.pk]), {"page": "2"})
    assert is_fragment(fragment, "location-entities")
    assert "Page 2 of 2" in html(fragment)


def test_location_detail_404_for_unknown_id(auth_client):
    unknown = reverse("catalog:location_detail", args=["00000000-0000-0000-0000-000000000000"])
    assert auth_client.get(unknown).status_code == 404
    assert auth_client.get("/catalog/locations/not-a-uuid/").status_code == 404  # no URL name builds a malformed id


def test_refresh_enqueues_and_answers_with_the_status_fragment(htmx_client, django_capture_on_commit_callbacks):
    location = seed_org()
    with django_capture_on_commit_callbacks() as callbacks:
        response = htmx_client.post(reverse("catalog:location_refresh", args=[location.pk]))
    assert response.status_code == 200
    assert is_fragment(response, "location-status")
    assert 'id="refresh-queued"' in html(response)
    assert len(callbacks) == 1


def test_refresh_without_javascript_redirects_to_the_location(auth_client, django_capture_on_commit_callbacks):
    location = seed_org()
    with django_capture_on_commit_callbacks():
        response = auth_client.post(reverse("catalog:location_refresh", args=[location.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:location_detail", args=[location.pk])


def test_unregister_asks_for_confirmation_then_removes_location_and_entities(admin_client):
    location = seed_org()
    confirm = admin_client.get(reverse("catalog:location_delete", args=[location.pk]))
    assert 'id="confirm-unregister"' in html(confirm)
    assert Location.objects.filter(pk=location.pk).exists()
    response = admin_client.post(reverse("catalog:location_delete", args=[location.pk]))
    assert response.status_code == 302
    assert not Location.objects.filter(pk=location.pk).exists()
    assert not Entity.objects.exists()


def test_admin_toggles_trust(admin_htmx_client, django_capture_on_commit_callbacks):
    location = seed_org()
    with django_capture_on_commit_callbacks():
        response = admin_htmx_client.post(reverse("catalog:location_trust", args=[location.pk]), {"trusted": "false"})
    assert is_fragment(response, "location-status")
    location.refresh_from_db()
    assert location.trusted is False


def test_staff_who_is_not_superuser_cannot_toggle_trust(client_for):
    location = seed_org()
    UserFactory(username="ops", is_staff=True)
    client = client_for("ops")
    response = client.post(reverse("catalog:location_trust", args=[location.pk]), {"trusted": "false"})
    assert response.status_code == 403
    location.refresh_from_db()
    assert location.trusted is True


# --- outcomes: refused forms in place, toasts for successes, previews that say what would happen ------------------


def _toasts(response) -> list[dict[str, str]]:
    import json

    messages: list[dict[str, str]] = json.loads(response["HX-Trigger"])["showMessage"]["messages"]
    return messages


@pytest.mark.parametrize("view", ["location_preview", "location_create"])
def test_a_target_outside_the_file_roots_is_refused_in_the_fragment_with_its_message(
    admin_htmx_client, tmp_path, settings, view
):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path / "allowed")]
    response = admin_htmx_client.post(reverse(f"catalog:{view}"), {"type": "file", "target": "/etc/hostname"})
    assert response.status_code == 400
    assert is_fragment(response, "location-preview")
    page = html(response)
    assert 'id="preview-errors"' in page
    assert "Cannot register this location" in page
    assert "outside" in page
    assert str(tmp_path / "allowed") in page
    assert Location.objects.count() == 0


@pytest.mark.parametrize("view", ["location_preview", "location_create"])
def test_a_refused_target_as_a_full_page_shows_the_form_again_with_its_message(admin_client, tmp_path, settings, view):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path / "allowed")]
    response = admin_client.post(reverse(f"catalog:{view}"), {"type": "file", "target": "/etc/hostname"})
    assert response.status_code == 400
    page = html(response)
    assert "<html" in page
    assert 'id="register-form"' in page
    assert 'id="preview-errors"' in page
    assert 'value="/etc/hostname"' in page


def test_a_url_whose_host_is_not_allowed_is_refused_with_its_message(admin_htmx_client, settings):
    response = admin_htmx_client.post(
        reverse("catalog:location_preview"), {"type": "url", "target": "http://169.254.169.254/latest/meta-data"}
    )
    assert response.status_code == 400
    assert is_fragment(response, "location-preview")
    assert 'id="preview-errors"' in html(response)
    assert Location.objects.count() == 0


@pytest.mark.parametrize(
    "form",
    [
        {"type": "file", "target": "/tmp/\x00evil.yaml"},
        {"type": "file", "target": "/" + "a" * 3000},
        {"type": "<script>alert(1)</script>", "target": "/x"},
        {"type": "git", "target": "--upload-pack=touch /tmp/pwned"},
        {"type": "file", "target": "../../etc/passwd"},
        {},
    ],
)
def test_hostile_register_forms_are_refused_in_place_and_escaped(admin_htmx_client, form):
    for view in ("location_preview", "location_create"):
        response = admin_htmx_client.post(reverse(f"catalog:{view}"), form)
        assert response.status_code == 400
        assert is_fragment(response, "location-preview")
        assert "<script>alert(1)</script>" not in html(response)
    assert Location.objects.count() == 0


def test_registering_a_duplicate_as_a_full_page_answers_409_with_the_form(admin_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    LocationFactory(type="file", target=str(path))
    response = admin_client.post(reverse("catalog:location_create"), {"type": "file", "target": str(path)})
    assert response.status_code == 409
    assert 'id="register-form"' in html(response)
    assert "already exists" in html(response)


def test_registering_over_htmx_sends_to_the_location_and_says_so_there(
    admin_htmx_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    with django_capture_on_commit_callbacks():
        response = admin_htmx_client.post(reverse("catalog:location_create"), {"type": "file", "target": str(path)})
    location = Location.objects.get()
    assert response["HX-Redirect"] == reverse("catalog:location_detail", args=[location.pk])
    landing = admin_htmx_client.get(response["HX-Redirect"], headers={"HX-Request": "false"})  # the page itself
    assert f"Registered file:{path}; its first refresh is queued." in html(landing)
    assert 'role="status"' in html(landing)


def test_preview_of_a_missing_file_says_file_not_found_not_would_be_created(admin_htmx_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    response = admin_htmx_client.post(
        reverse("catalog:location_preview"), {"type": "file", "target": str(tmp_path / "nowhere.yaml")}
    )
    assert response.status_code == 200
    page = html(response)
    assert 'id="preview-unreadable"' in page
    assert "file not found" in page
    assert "would be created" not in page
    assert "Registering it would" not in page


def test_preview_of_a_registered_location_says_already_registered_and_what_a_refresh_would_do(
    admin_htmx_client, tmp_path, settings
):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = tmp_path / "catalog-info.yaml"
    docs = [ComponentDictFactory(name="billing"), ComponentDictFactory(name="ledger")]
    write_docs(path, docs)
    location = new_location(type="file", target=str(path))
    ingest(docs, location=location, source=f"file:{path}")
    changed = ComponentDictFactory(name="ledger")
    changed["metadata"]["description"] = "Now with a description"
    write_docs(path, [docs[0], changed, ComponentDictFactory(name="payouts")])
    response = admin_htmx_client.post(reverse("catalog:location_preview"), {"type": "file", "target": str(path)})
    page = html(response)
    assert 'id="preview-exists"' in page
    assert "Already registered" in page
    outcomes = {
        name: outcome
        for outcome, name in re.findall(r'<li data-outcome="(\w+)">\s*<span[^>]*>Component</span>([\w-]+)', page)
    }
    assert outcomes == {"billing": "unchanged", "ledger": "update", "payouts": "create"}
    assert "A refresh would" in page
    assert "would be created" in page
    assert "would be updated" in page


def test_preview_names_the_location_that_already_manages_an_entity(admin_htmx_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    other = new_location()
    ingest([ComponentDictFactory(name="billing")], location=other)
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    page = html(admin_htmx_client.post(reverse("catalog:location_preview"), {"type": "file", "target": str(path)}))
    assert '<li data-outcome="conflict">' in page
    assert f"already managed by {other.key}" in page
    assert "refuse 1 another location manages" in page


def test_preview_of_a_new_location_says_each_entity_would_be_created(admin_htmx_client, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing")])
    page = html(admin_htmx_client.post(reverse("catalog:location_preview"), {"type": "file", "target": str(path)}))
    assert 'id="preview-exists"' not in page
    assert page.count('data-outcome="create"') == 2  # the component and the location's own Location entity
    assert "Registering it would" in page
    assert "create 2" in page


def test_location_list_empty_state_says_how_to_register_one(admin_client, auth_client):
    page = html(admin_client.get(reverse("catalog:location_list")))
    assert "Register one with the form beside this list" in page
    assert "manage.py catalog import" in page


def test_refresh_over_htmx_says_it_is_queued_in_a_toast(htmx_client, django_capture_on_commit_callbacks):
    location = seed_org()
    with django_capture_on_commit_callbacks():
        response = htmx_client.post(reverse("catalog:location_refresh", args=[location.pk]))
    assert _toasts(response) == [{"message": f"Refresh of {location.key} queued.", "level": "info"}]


def test_trust_over_htmx_answers_the_status_card_and_a_toast(admin_htmx_client, django_capture_on_commit_callbacks):
    location = seed_org()
    with django_capture_on_commit_callbacks():
        response = admin_htmx_client.post(reverse("catalog:location_trust", args=[location.pk]), {"trusted": "false"})
    assert is_fragment(response, "location-status")
    assert _toasts(response) == [{"message": f"{location.key} is now untrusted.", "level": "success"}]


def test_trust_refused_over_htmx_is_an_error_toast_and_swaps_nothing(client_for):
    location = seed_org()
    response = client_for("ops", htmx=True).post(
        reverse("catalog:location_trust", args=[location.pk]), {"trusted": "false"}
    )
    assert response.status_code == 403
    assert response["HX-Reswap"] == "none"
    assert _toasts(response) == [
        {"message": "Only administrators may change whether a location is trusted.", "level": "error"}
    ]


def test_unregister_over_htmx_is_refused_with_a_toast_for_members(client_for):
    location = seed_org()
    response = client_for("zed", htmx=True).post(reverse("catalog:location_delete", args=[location.pk]))
    assert response.status_code == 403
    assert "only administrators and whoever registered it" in _toasts(response)[0]["message"]
    assert Location.objects.filter(pk=location.pk).exists()


def test_unregister_confirmation_page_cancel_goes_back_to_the_location(admin_client):
    location = seed_org()
    page = html(admin_client.get(reverse("catalog:location_delete", args=[location.pk])))
    cancel = re.search(r'<a class="btn" href="([^"]+)"[^>]*>Cancel</a>', page)
    assert cancel is not None
    assert cancel.group(1) == reverse("catalog:location_detail", args=[location.pk])
    response = admin_client.post(reverse("catalog:location_delete", args=[location.pk]), follow=True)
    assert f"Unregistered {location.key}." in html(response)


def test_deleting_an_orphan_says_so_on_the_list(auth_client):
    orphan_setup()
    response = auth_client.post(entity_page("component", "old", "entity_delete"), follow=True)
    assert "Deleted component:default/old." in html(response)


def test_deleting_an_orphan_refused_over_htmx_is_an_error_toast(client_for):
    orphan_setup()
    response = client_for("zed", htmx=True).post(entity_page("component", "old", "entity_delete"))
    assert response.status_code == 403
    assert response["HX-Reswap"] == "none"
    assert "You may not delete component:default/old" in _toasts(response)[0]["message"]
    assert Entity.objects.filter(name="old").exists()


def test_deleting_an_entity_that_is_gone_over_htmx_is_a_not_found_toast(htmx_client):
    response = htmx_client.post(entity_page("component", "nothing-here", "entity_delete"))
    assert response.status_code == 404
    assert response["HX-Reswap"] == "none"
    assert "No entity component:default/nothing-here" in _toasts(response)[0]["message"]


# --- catalog reading (API definitions, dependency filters, table columns, source links) ---


def _api(name: str, api_type: str, definition: str) -> dict:
    document = ApiDictFactory(name=name, definition=definition)
    document["spec"]["type"] = api_type
    return document


def test_openapi_page_hands_the_parsed_definition_to_swagger_ui_and_keeps_the_list_without_scripts(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("api", "payments-api")))
    assert '<script id="api-openapi-document" type="application/json">' in page
    assert 'data-paved-swagger="api-openapi-document"' in page
    assert 'id="api-endpoints"' in page  # shown until Swagger UI replaces it
    assert "vendor/swagger-ui/swagger-ui-bundle" in page
    assert "vendor/highlight/highlight" in page
    assert 'id="api-definition-source" class="language-yaml" data-paved-highlight' in page
    assert 'class="paved-code-gutter" aria-hidden="true">1\n2\n' in page


@pytest.mark.parametrize(
    ("api_type", "definition", "language"),
    [
        ("asyncapi", "asyncapi: 2.6.0\ninfo:\n  title: Events\n", "yaml"),
        ("graphql", "type Query {\n  order(id: ID!): Order\n}\n", "graphql"),
        ("grpc", 'syntax = "proto3";\npackage orders;\nservice Orders {}\n', "protobuf"),
    ],
)
def test_other_definitions_are_listings_with_line_numbers_and_no_swagger(auth_client, api_type, definition, language):
    ingest([_api("events", api_type, definition)], location=new_location(trusted=True))
    page = html(auth_client.get(entity_page("api", "events")))
    assert f'id="api-definition-source" class="language-{language}" data-paved-highlight' in page
    assert "swagger-ui-bundle" not in page
    assert "api-openapi-document" not in page
    assert ("languages/protobuf" in page) == (language == "protobuf")
    assert 'class="paved-code-gutter" aria-hidden="true">1\n2\n3</pre>' in page
    assert 'data-paved-copy="#api-definition-source" hidden' in page


def test_pages_without_an_api_load_no_highlighting_or_swagger(auth_client):
    seed_org()
    page = html(auth_client.get(entity_page("component", "checkout")))
    assert "vendor/highlight" not in page
    assert "swagger-ui" not in page


def test_hostile_definition_is_escaped_everywhere(auth_client):
    evil = "openapi: 3.0.0\ninfo:\n  title: </script><script>alert(1)</script>\npaths:\n  /x:\n    get: {}\n"
    ingest([_api("evil", "openapi", evil)], location=new_location(trusted=True))
    page = html(auth_client.get(entity_page("api", "evil")))
    assert "<script>alert(1)</script>" not in page
    assert "\\u003C/script\\u003E" in page  # inside the JSON handed to Swagger UI


def test_raw_yaml_keeps_multi_line_text_as_block_scalars(auth_client):
    ingest([_api("events", "asyncapi", "asyncapi: 2.6.0\ninfo:\n  title: Events\n")], location=new_location())
    fragment = auth_client.get(entity_page("api", "events"), {"tab": "yaml"}, HTTP_HX_REQUEST="true")
    text = html(fragment)
    assert is_fragment(fragment, "entity-tab")
    assert "definition: |" in text
    assert "\\n" not in text


def test_dependencies_filter_by_relation_and_depth(auth_client):
    seed_org()
    url = entity_page("component", "checkout", "entity_dependencies")
    everything = html(auth_client.get(url))
    narrowed = auth_client.get(url, {"relation": "ownedBy", "depth": "1"})
    assert narrowed.status_code == 200
    types = set(re.findall(r'<g class="paved-graph-edge" data-source="[^"]+" data-type="([^"]+)"', html(narrowed)))
    assert types == {"ownedBy"}
    assert everything.count("paved-graph-edge") > html(narrowed).count("paved-graph-edge")
    assert 'value="ownedBy" checked' in html(narrowed)


def test_dependencies_depth_one_leaves_out_the_second_hop(auth_client):
    seed_org()
    url = entity_page("component", "checkout", "entity_dependencies")
    page = html(auth_client.get(url, {"depth": "1"}))
    sources = set(re.findall(r'<tr data-source="([^"]+)"', page))
    assert sources == {"component:default/checkout"}


def test_dependencies_filter_fragment_is_only_the_view(auth_client):
    seed_org()
    url = entity_page("component", "checkout", "entity_dependencies")
    response = auth_client.get(url, {"relation": "dependsOn"}, HTTP_HX_REQUEST="true")
    assert is_fragment(response, "dependency-view")


def test_dependencies_filter_with_nothing_to_show_says_so(auth_client):
    seed_org()
    url = entity_page("component", "checkout", "entity_dependencies")
    page = html(auth_client.get(url, {"relation": "hasPart"}))
    assert "No dependencies of these kinds" in page
    assert "has no hasPart relations" in page
    fragment = html(auth_client.get(url, {"relation": "hasPart"}, HTTP_HX_REQUEST="true"))
    assert f'<a class="btn btn-primary" href="{url}">Show all relations</a>' in fragment
    refused = html(auth_client.get(url, {"depth": "9"}, HTTP_HX_REQUEST="true"))
    assert f'href="{url}">Show all relations</a>' in refused


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"relation": "memberOf"}, "relation: unknown relation type 'memberOf'"),
        ({"relation": "<script>x</script>"}, "relation: unknown relation type"),
        ({"relation": "x" * 5000}, "relation: unknown relation type"),
        ({"depth": "3"}, "depth: expected 1 or 2, found '3'"),
        ({"depth": "-1"}, "depth: expected 1 or 2"),
        ({"depth": "1e9"}, "depth: expected 1 or 2"),
        ({"depth": "two"}, "depth: expected 1 or 2, found 'two'"),
    ],
)
def test_dependencies_refuses_hostile_filters_and_says_which(auth_client, params, message):
    seed_org()
    response = auth_client.get(entity_page("component", "checkout", "entity_dependencies"), params)
    assert response.status_code == 400
    page = html(response)
    assert message in unescape(page)
    assert "<script>x</script>" not in page
    assert "x" * 100 not in page


def test_dependencies_query_count_with_filters(auth_client, django_assert_max_num_queries):
    seed_org()
    url = entity_page("component", "checkout", "entity_dependencies")
    with django_assert_max_num_queries(8):
        assert auth_client.get(url, {"relation": ["dependsOn", "providesApi"], "depth": "2"}).status_code == 200
    with django_assert_max_num_queries(7):
        assert auth_client.get(url, {"depth": "1"}).status_code == 200


def test_user_list_shows_email_and_teams_instead_of_owner_type_lifecycle(auth_client):
    seed_org()
    page = html(auth_client.get(LIST, {"kind": "User"}))
    head = page[page.index('id="entity-table"') : page.index("</thead>")]
    assert "<th>Email</th><th>Teams</th>" in head
    assert "<th>Owner</th>" not in head
    assert 'href="mailto:' in page
    assert 'data-column="teams"><a href="/catalog/default/group/' in page
    everything = html(auth_client.get(LIST))
    assert "<th>Owner</th>" in everything


def test_entity_list_shows_owners_teams_and_owner_facet_values_by_their_titles(auth_client):
    seed_org()
    force_metadata("payments", title="Payments & Billing")
    page = html(auth_client.get(LIST, {"kind": "Component"}))
    assert 'title="group:default/payments">Payments &amp; Billing</a>' in page
    assert re.search(r'value="group:default/payments"[^>]*>\s*<span[^>]*>Payments &amp; Billing</span>', page)
    # A selected owner typed short keeps its title too; one without an entity shows as its ref.
    selected = html(auth_client.get(LIST, {"owner": ["payments", "group:default/ghosts"]}))
    assert re.search(r'value="payments" checked>\s*<span[^>]*>Payments &amp; Billing</span>', selected)
    assert re.search(r'value="group:default/ghosts" checked>\s*<span[^>]*>ghosts</span>', selected)
    users = html(auth_client.get(LIST, {"kind": "User"}))
    assert '<a href="/catalog/default/group/payments/">Payments &amp; Billing</a>' in users


def test_user_list_query_count_is_bounded(auth_client, django_assert_max_num_queries):
    seed_org()
    ingest([UserDictFactory(name=f"person-{n}", member_of=["payments"]) for n in range(40)], location=new_location())
    with django_assert_max_num_queries(17):
        assert auth_client.get(LIST, {"kind": "User", "size": "100"}).status_code == 200


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (
            {"backstage.io/source-location": "url:https://git.example.com/a/tree/main/"},
            "https://git.example.com/a/tree/main/",
        ),
        (
            {"backstage.io/managed-by-location": "url:https://git.example.com/b/catalog-info.yaml"},
            "https://git.example.com/b/catalog-info.yaml",
        ),
        (
            {
                "backstage.io/view-url": "https://view.example.com/c",
                "backstage.io/source-location": "url:https://git.example.com/c/",
            },
            "https://view.example.com/c",
        ),
        ({"backstage.io/source-location": "url:javascript:alert(1)"}, None),
        ({"backstage.io/source-location": "file:/etc/passwd"}, None),
        ({"backstage.io/managed-by-location": "url:https://x.example.com/a b"}, None),
    ],
)
def test_view_source_link_from_annotations(auth_client, annotations, expected):
    ingest([ComponentDictFactory(name="ledger")], location=new_location(trusted=True))
    force_metadata("ledger", annotations=annotations)
    page = html(auth_client.get(entity_page("component", "ledger")))
    links = re.findall(r'<a class="btn btn-outline-secondary" href="([^"]+)"[^>]*>View source</a>', page)
    assert links == ([expected] if expected else [])
    assert page.count("View source") == len(links)  # once, in the page header


def test_location_without_entities_says_what_to_do(admin_client):
    pending = new_location(state="pending")
    page = html(admin_client.get(reverse("catalog:location_detail", args=[pending.pk])))
    assert "No entities yet" in page
    assert "The first refresh is queued" in page
    assert "Refresh now" in page
    empty = new_location(state="ok")
    page = html(admin_client.get(reverse("catalog:location_detail", args=[empty.pk])))
    assert "Add a <code>catalog-info.yaml</code> to the target and refresh it." in page
