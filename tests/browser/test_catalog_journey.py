from __future__ import annotations

import re

import pytest

from tests.catalog.factories import ComponentDictFactory, seed_org, write_docs
from tests.portal.factories import AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_browses_catalog_from_list_to_team_dependencies_and_locations(page, login, screenshot, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    AdminFactory(username="dana", first_name="Dana", last_name="Scully")
    seed_org()
    login("dana")

    page.click("nav >> text=Catalog")
    page.wait_for_selector("#entity-table")
    assert page.locator("#entity-table tbody tr").count() >= 10
    screenshot("catalog-list")

    # Kind tab, then an owner facet: the table narrows and the URL keeps the state.
    page.click(".paved-kind-tabs a[data-kind='component']")
    page.wait_for_url(re.compile(r"kind=Component"))
    page.check("[data-facet='owner'] input[value='group:default/payments']")
    page.wait_for_url(re.compile(r"owner=group%3Adefault%2Fpayments"))
    page.wait_for_function("() => document.querySelectorAll('#entity-table tbody tr').length === 2")
    assert "kind=Component" in page.url
    names = page.locator("#entity-table tbody tr td:first-child a").all_inner_texts()
    assert sorted(names) == ["Checkout service", "ledger"]
    screenshot("catalog-list-filtered")

    # Header search: the dropdown lists matches as you type; open the service.
    page.fill("#global-search", "check")
    page.wait_for_selector("#search-results .dropdown-item >> text=Checkout service")
    screenshot("catalog-search-dropdown")
    page.click("#search-results .dropdown-item >> text=Checkout service")
    page.wait_for_url(re.compile(r"/catalog/default/component/checkout/$"))
    assert page.locator("#entity-title").inner_text() == "Checkout service"
    assert page.locator("#links-card a", has_text="Runbook").get_attribute("rel") == "noopener noreferrer"
    assert page.locator("#relations-card .paved-missing", has_text="orders-db").count() == 1
    screenshot("catalog-entity")

    page.click("#yaml-tab")
    page.wait_for_selector("#raw-yaml")
    assert "kind: Component" in page.locator("#raw-yaml").inner_text()

    # Owner link -> the team page with members and what it owns.
    page.goto("/catalog/default/component/checkout/")
    page.click("#owner a")
    page.wait_for_url(re.compile(r"/catalog/default/group/payments/$"))
    assert page.locator("#members-card", has_text="alice@example.com").count() == 1
    assert page.locator("#owned-card [data-kind='component']").count() == 1
    screenshot("catalog-group")

    page.goto("/catalog/default/api/payments-api/")
    # Swagger UI replaces the plain list of paths (kept for pages without scripts) with its operations.
    page.wait_for_selector("#api-swagger .swagger-ui .opblock")
    paths = set(page.locator("#api-swagger .opblock-summary-path").all_inner_texts())
    assert len(paths) == 2, paths
    screenshot("catalog-api")

    page.goto("/catalog/default/user/alice/")
    assert page.locator("#profile-email").get_attribute("href") == "mailto:alice@example.com"
    screenshot("catalog-user")

    page.goto("/catalog/default/component/checkout/")
    page.click("#dependencies-link")
    page.wait_for_selector("svg.paved-graph")
    assert page.locator(".paved-graph-node.is-missing").count() >= 1
    assert page.locator("#dependency-table tbody tr").count() >= 4
    screenshot("catalog-dependencies")

    # Locations: a dry-run preview lists what would be created, writing nothing.
    path = write_docs(tmp_path / "new" / "catalog-info.yaml", [ComponentDictFactory(name="billing", owner="payments")])
    page.goto("/catalog/locations/")
    page.select_option("#location-type", "file")
    page.fill("#location-target", str(path))
    page.click("#preview-button")
    page.wait_for_selector("#preview-entities")
    assert page.locator("#preview-entities", has_text="billing").count() == 1
    screenshot("catalog-locations-preview")

    page.click("text=Registered locations")
    page.locator("#location-table a").first.click()
    page.wait_for_selector("#location-status")
    screenshot("catalog-location-detail")
