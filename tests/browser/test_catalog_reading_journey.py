"""The catalog as people read it, on the demo organisation: API definitions (Swagger UI for OpenAPI, highlighted
listings with line numbers and a copy button for the others, Raw YAML with block text), the dependency graph's arrows
and filters, the search box's ranking, arrow keys and typo tolerance, and the catalog table at a laptop's width."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from catalog.models import Entity
from tests.catalog.factories import ApiDictFactory, ComponentDictFactory, ingest, new_location
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

READER = "hannah.meyer"
# Neither the page nor the table (inside its own scrolling box) is wider than the window.
FITS = """() => {
  const table = document.getElementById("entity-table");
  return document.documentElement.scrollWidth <= window.innerWidth
    && table.scrollWidth <= table.parentElement.clientWidth;
}"""


@pytest.fixture
def demo() -> None:
    call_command("demo_setup", stdout=io.StringIO())
    assert Entity.objects.filter(kind="Component", name="checkout-service").exists()


@pytest.fixture
def reader(demo, login) -> None:
    UserFactory(username=READER, email=f"{READER}@acme-retail.example.com")
    login(READER)


def test_openapi_definition_renders_with_swagger_ui_and_readable_source(page, reader, screenshot):
    page.goto("/catalog/default/api/payments-api/")
    page.wait_for_selector("#api-swagger .swagger-ui .opblock")
    assert page.locator("#api-swagger .opblock-summary-path").count() >= 1
    assert page.locator("#api-endpoints").count() == 0  # Swagger UI replaced the plain list
    page.click("#api-source summary")
    code = page.locator("#api-definition-source")
    assert "openapi" in code.inner_text()
    # The listing is readable: its text is not drawn in the colour of its background.
    colours = code.evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el.closest('.paved-code')).backgroundColor]"
    )
    assert colours[0] != colours[1]
    assert page.locator("#api-definition-source .hljs-attr").count() > 3  # highlighted as YAML
    gutter = page.locator("#api-definition-source-listing .paved-code-gutter").inner_text().split()
    assert gutter[:3] == ["1", "2", "3"]
    assert len(gutter) == len(code.inner_text().rstrip("\n").split("\n"))
    screenshot("catalog-api-openapi")


@pytest.mark.parametrize(
    ("api", "language", "token"),
    [("order-events", "yaml", ".hljs-attr"), ("inventory-api", "protobuf", ".hljs-keyword")],
)
def test_other_definitions_are_highlighted_listings_with_a_copy_button(page, reader, screenshot, api, language, token):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/catalog/default/api/{api}/")
    listing = page.locator("#api-definition-source-listing")
    listing.wait_for()
    assert page.locator("#api-swagger").count() == 0
    assert page.locator(f"#api-definition-source.language-{language}[data-highlighted]").count() == 1
    assert page.locator(f"#api-definition-source {token}").count() >= 1
    button = listing.locator("[data-paved-copy]")
    assert button.is_visible()
    button.click()
    page.wait_for_function(
        "() => document.querySelector('#api-definition-source-listing [data-paved-copy]').textContent === 'Copied'"
    )
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.locator("#api-definition-source").inner_text()
    screenshot(f"catalog-api-{language}")


GRAPHQL = """type Query {
  order(id: ID!): Order
}

type Order {
  id: ID!
  total: Float
}
"""


def test_graphql_definition_is_a_highlighted_listing(page, reader, screenshot):
    api = ApiDictFactory(name="orders-graph", owner="payments")
    api["spec"].update(type="graphql", definition=GRAPHQL)
    ingest([api], location=new_location(trusted=True))
    page.goto("/catalog/default/api/orders-graph/")
    page.locator("#api-definition-source.language-graphql[data-highlighted]").wait_for()
    assert page.locator("#api-swagger").count() == 0
    assert page.locator("#api-definition-source .hljs-keyword", has_text="type").count() >= 2
    gutter = page.locator("#api-definition-source-listing .paved-code-gutter").inner_text().split()
    assert gutter == [str(n) for n in range(1, 9)]
    assert page.locator("#api-definition-source-listing [data-paved-copy]").is_visible()
    page.locator("#oncall-card [data-level='1']").wait_for()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    screenshot("catalog-api-graphql")


def test_raw_yaml_keeps_multi_line_text_as_blocks(page, reader, screenshot):
    page.goto("/catalog/default/api/order-events/?tab=yaml")
    text = page.locator("#raw-yaml").inner_text()
    assert "definition: |" in text
    assert "\\n" not in text
    screenshot("catalog-raw-yaml")


def _edge_direction(page, source: str, relation: str, target: str) -> tuple[float, float]:
    """Where the drawn edge starts and where its arrow head ends (x coordinates)."""
    selector = f'g.paved-graph-edge[data-source="{source}"][data-type="{relation}"][data-target="{target}"] path'
    d = page.locator(selector).get_attribute("d")
    assert d, f"no edge {source} {relation} {target} drawn"
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return numbers[0], numbers[-2]


def _node_x(page, ref: str) -> float:
    return float(page.locator(f'g.paved-graph-node[data-ref="{ref}"] rect').get_attribute("x") or "nan")


def test_dependency_graph_arrows_follow_each_relation_and_filters_narrow_it(page, reader, screenshot):
    page.goto("/catalog/default/component/payments-service/dependencies/")
    centre, adapter = "component:default/payments-service", "component:default/psp-adapter"
    start, end = _edge_direction(page, centre, "dependsOn", adapter)
    # psp-adapter is drawn on the left; the arrow leaves payments-service and ends at psp-adapter.
    assert _node_x(page, adapter) < _node_x(page, centre)
    assert start == _node_x(page, centre)
    assert end == _node_x(page, adapter) + 176
    start, end = _edge_direction(page, centre, "providesApi", "api:default/payments-api")
    assert start < end  # downstream: left to right, into the API
    drawn = {
        (g.get_attribute("data-source"), g.get_attribute("data-type"), g.get_attribute("data-target"))
        for g in page.locator("g.paved-graph-edge").all()
    }
    listed = {
        (tr.get_attribute("data-source"), tr.get_attribute("data-type"), tr.get_attribute("data-target"))
        for tr in page.locator("#dependency-table tbody tr").all()
    }
    assert drawn == listed
    assert len(drawn) > 5
    screenshot("catalog-dependencies")

    page.check('input[name="relation"][value="dependsOn"]')
    page.wait_for_url(re.compile(r"relation=dependsOn"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('g.paved-graph-edge')].every(g => g.dataset.type === 'dependsOn')"
    )
    page.select_option("#dependency-depth", "1")
    page.wait_for_url(re.compile(r"depth=1"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('g.paved-graph-edge')]"
        ".every(g => g.dataset.source === 'component:default/payments-service')"
    )
    rows = page.locator("#dependency-table tbody tr")
    assert rows.count() == page.locator("g.paved-graph-edge").count() == 3
    screenshot("catalog-dependencies-filtered")

    page.goto("/catalog/default/component/payments-service/dependencies/?relation=ownedBy&depth=7")
    assert "depth: expected 1 or 2" in page.locator("#dependency-filter-error").inner_text()
    screenshot("catalog-dependencies-bad-filter")


def test_search_box_ranks_names_first_moves_with_arrow_keys_and_forgives_a_typo(page, reader, screenshot):
    page.goto("/catalog/")
    box = page.locator("#global-search")
    box.fill("checkout")
    options = page.locator("#search-results [role=option]")
    options.first.wait_for()
    hrefs = [options.nth(i).get_attribute("href") for i in range(min(3, options.count()))]
    assert "/catalog/default/component/checkout-service/" in hrefs
    kinds = [options.nth(i).locator(".badge").inner_text() for i in range(options.count())]
    names = [(options.nth(i).get_attribute("href") or "").rstrip("/").rsplit("/", 1)[-1] for i in range(len(kinds))]
    assert set(kinds[:3]) <= {"Component", "API", "System", "Group", "User"}
    # Bookkeeping kinds (on-call rotas, escalation rules) come after every sought-after kind whose name matches.
    bookkeeping = [i for i, kind in enumerate(kinds) if kind in {"Location", "Schedule", "EscalationPolicy"}]
    named = [
        i
        for i, kind in enumerate(kinds)
        if kind not in {"Location", "Schedule", "EscalationPolicy"} and names[i].startswith("checkout")
    ]
    assert bookkeeping
    assert min(bookkeeping) > max(named)
    box.press("ArrowDown")
    box.press("ArrowDown")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
    screenshot("catalog-search-keys")
    box.press("ArrowUp")
    target = options.nth(0).get_attribute("href")
    box.press("Enter")
    page.wait_for_url(f"**{target}")

    box = page.locator("#global-search")
    box.fill("chekout")
    page.locator("#search-results [role=option]").first.wait_for()
    texts = page.locator("#search-results [role=option]").all_inner_texts()
    assert any("checkout-service" in text for text in texts)
    screenshot("catalog-search-typo")

    page.goto("/catalog/search/?q=chekout")
    assert "checkout-service" in page.locator("#search-page-results").inner_text()
    page.goto("/catalog/search/?q=zzzzqqqq")
    assert "Nothing matches" in page.locator(".empty-title").inner_text()
    screenshot("catalog-search-empty")


def test_catalog_table_fits_a_laptop_and_users_show_email_and_teams(page, reader, screenshot):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/catalog/")
    assert page.evaluate(FITS)
    screenshot("catalog-list-1440")
    # Teams read as their titles: in the Owner column, the Owner facet and a person's Teams.
    page.goto("/catalog/?kind=Component&owner=group:default/catalog-search")
    owners = page.locator("#entity-table tbody tr td:nth-child(3) a").all_text_contents()
    assert owners
    assert {owner.strip() for owner in owners} == {"Catalog & Search"}
    facet = page.locator('[data-facet="owner"] input[value="group:default/catalog-search"] + span')
    assert facet.text_content() == "Catalog & Search"
    page.goto("/catalog/?kind=User")
    headers = page.locator("#entity-table thead th").all_text_contents()
    assert headers == ["Name", "Email", "Teams", "Tags"]
    assert page.locator('#entity-table td[data-column="email"] a[href^="mailto:"]').count() >= 1
    assert page.locator('#entity-table td[data-column="teams"] a').count() >= 1
    teams = set(page.locator('#entity-table td[data-column="teams"] a').all_text_contents())
    assert "Catalog & Search" in teams or "Payments" in teams, teams
    assert not any(team.startswith("group:") or team == team.lower() for team in teams), teams
    # People by their display names.
    assert "Aisha Khan" in page.locator("#entity-table tbody tr td:first-child a").all_text_contents()
    assert page.evaluate(FITS)
    screenshot("catalog-list-users")


def test_view_source_link_comes_from_the_source_location(page, reader, screenshot):
    component = ComponentDictFactory(name="ledger")
    component["metadata"]["annotations"] = {
        "backstage.io/source-location": "url:https://git.example.com/acme-retail/ledger/tree/main/"
    }
    ingest([component], location=new_location(trusted=True))
    page.goto("/catalog/default/component/ledger/")
    link = page.locator(".page-header a", has_text="View source")
    assert link.get_attribute("href") == "https://git.example.com/acme-retail/ledger/tree/main/"
    screenshot("catalog-view-source")

    # Without a source location, the link goes to the file the entity was read from (its managed-by location).
    url = "https://git.example.com/acme-retail/fx/blob/main/catalog-info.yaml"
    ingest([ComponentDictFactory(name="fx-rates")], location=new_location(type="url", target=url))
    page.goto("/catalog/default/component/fx-rates/")
    assert page.locator(".page-header a", has_text="View source").get_attribute("href") == url
    # A file location has no web address: no link rather than a broken one.
    ingest([ComponentDictFactory(name="local-only")], location=new_location(trusted=True))
    page.goto("/catalog/default/component/local-only/")
    assert page.locator(".page-header a", has_text="View source").count() == 0
