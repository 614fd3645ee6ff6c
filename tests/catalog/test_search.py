"""The portal's search (header box and /catalog/search/): ranking, the typo fallback, hostile input, query budgets.

The Backstage API's `fullTextFilterTerm` keeps its own ordering; the last test holds it to that.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from catalog import query, selectors
from tests.catalog.factories import (
    ComponentDictFactory,
    GroupDictFactory,
    LocationDictFactory,
    SystemDictFactory,
    UserDictFactory,
    ingest,
    new_location,
)
from tests.catalog.oncall.factories import EscalationPolicyDictFactory, ScheduleDictFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("catalog:search")


def _with_description(document: dict, text: str) -> dict:
    document["metadata"]["description"] = text
    return document


@pytest.fixture
def shop() -> None:
    """Names people type beside bookkeeping entities and descriptions that mention the same word."""
    ingest(
        [
            GroupDictFactory(name="checkout"),
            SystemDictFactory(name="checkout", owner="group:checkout"),
            ComponentDictFactory(name="checkout-service", owner="group:checkout", system="checkout"),
            _with_description(ComponentDictFactory(name="basket-service", owner="group:checkout"), "Feeds checkout."),
            _with_description(UserDictFactory(name="dana", member_of=["checkout"]), "Engineer, checkout"),
            UserDictFactory(name="alice"),
            UserDictFactory(name="bob"),
            ScheduleDictFactory(name="checkout-primary", owner="group:checkout"),
            EscalationPolicyDictFactory(
                name="checkout", owner="group:checkout", levels=[["schedule:checkout-primary"]]
            ),
            LocationDictFactory(name="checkout-files", targets=["./a.yaml"]),
            ComponentDictFactory(name="payments-service", owner="group:checkout"),
        ],
        location=new_location(trusted=True),
    )


def _refs(text: str, limit: int = 20) -> list[str]:
    return [entity.ref for entity in selectors.entity_search_suggestions(text=text, limit=limit)]


def test_checkout_service_is_among_the_first_three_for_checkout(shop):
    refs = _refs("checkout")
    assert "component:default/checkout-service" in refs[:3]
    # Exact names first (the kinds people look for in SEARCH_KIND_ORDER), then the prefix.
    assert refs[:3] == ["system:default/checkout", "group:default/checkout", "component:default/checkout-service"]


def test_bookkeeping_kinds_come_after_sought_after_names_and_before_descriptions(shop):
    refs = _refs("checkout")
    bookkeeping = [
        refs.index(ref)
        for ref in (
            "escalationpolicy:default/checkout",
            "schedule:default/checkout-primary",
            "location:default/checkout-files",
        )
    ]
    by_name = [refs.index(ref) for ref in refs[:3]]
    by_description = [refs.index("component:default/basket-service"), refs.index("user:default/dana")]
    assert max(by_name) < min(bookkeeping)
    assert max(bookkeeping) < min(by_description)
    # Among description matches too, the kinds people look for keep their order: Component before User.
    assert by_description == sorted(by_description)


def test_every_word_must_match_and_ranking_uses_the_first(shop):
    # basket-service matches too: "service" in its name, "checkout" in its description.
    assert _refs("checkout service") == ["component:default/checkout-service", "component:default/basket-service"]
    assert _refs("service checkout") == ["component:default/basket-service", "component:default/checkout-service"]
    assert _refs("checkout payments") == []


def test_a_one_letter_typo_still_finds_the_name(shop):
    for typo in ("chekout", "checkuot", "checkoutt", "chaeckout", "cheskout"):
        assert "component:default/checkout-service" in _refs(typo), typo
    assert "component:default/payments-service" in _refs("paymets")
    assert _refs("chekout service") == []  # several words: each narrows, none is guessed at


def test_a_typo_puts_the_kinds_people_look_for_first(shop):
    refs = _refs("chekout")
    assert refs.index("component:default/checkout-service") < refs.index("escalationpolicy:default/checkout")
    assert refs.index("system:default/checkout") < refs.index("schedule:default/checkout-primary")


def test_the_typo_fallback_does_not_invent_matches(shop):
    assert _refs("zzzzqqqq") == []
    assert _refs("xyz") == []  # too short to guess at
    assert _refs("chk") == []


def test_the_typo_fallback_only_fills_what_exact_matches_leave(shop):
    exact = _refs("checkout", limit=3)
    assert len(exact) == 3
    assert _refs("checkout", limit=3) == exact
    assert len(_refs("checkout", limit=50)) == len(set(_refs("checkout", limit=50)))  # no entity twice


def test_one_edit_pattern_escapes_what_was_typed():
    pattern = query.one_edit_pattern("a.b*")
    assert re.search(pattern, "a.b*")
    assert re.search(pattern, "xa.bx")  # one replaced
    assert not re.search(pattern, "azzzb")
    assert re.search(query.one_edit_pattern("abcd"), "XBACDX".lower())  # neighbours swapped
    assert re.search(query.one_edit_pattern("abcd"), "abxcd")  # one missed
    assert re.search(query.one_edit_pattern("abcd"), "acd")  # one too many
    assert not re.search(query.one_edit_pattern("abcd"), "ab")


@pytest.mark.parametrize(
    "text",
    [
        "%",
        "_",
        "%%%%",
        "____",
        "(((",
        "[a-z]+",
        ".*",
        "\\",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "\x00abc",
        "ü" * 39,
        "a" * 200,
        "check" * 40,
        " ".join(["checkout"] * 30),
    ],
)
def test_hostile_text_neither_fails_nor_matches_everything(shop, text):
    found = _refs(text, limit=50)
    assert len(found) < 11  # never the whole catalog of wildcard or regex syntax


@pytest.mark.parametrize("text", ["%", "____", ".*", "\\", "<script>x</script>", "\x00", "a" * 500])
def test_hostile_text_through_the_search_page_and_fragment(shop, auth_client, text):
    page = auth_client.get(SEARCH, {"q": text})
    assert page.status_code == 200
    assert "<script>x</script>" not in page.content.decode()
    fragment = auth_client.get(SEARCH, {"q": text}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert 'id="search-results"' in fragment.content.decode()


def test_search_query_budget(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        _refs("checkout", limit=3)
    # The typo fallback: one more query, and on PostgreSQL one to set its threshold for the transaction.
    budget = 3 + (2 if connection.vendor == "postgresql" else 0)  # savepoint in and out around it in tests
    with django_assert_max_num_queries(budget):
        _refs("chekout")


def test_search_fragment_options_come_in_ranked_order_with_the_keyboard_hint(shop, auth_client):
    response = auth_client.get(SEARCH, {"q": "checkout"}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    options = re.findall(r'role="option" href="([^"]+)"', text)
    assert options[2] == "/catalog/default/component/checkout-service/"
    assert "paved-search-all" in text
    assert "↑ ↓ to move" in text


def test_search_page_finds_a_typo(shop, auth_client):
    text = auth_client.get(SEARCH, {"q": "chekout"}).content.decode()
    assert "/catalog/default/component/checkout-service/" in text


def test_backstage_full_text_ordering_is_not_the_search_box_ranking(shop, auth_client):
    """`fullTextFilterTerm` filters; the order stays Backstage's (by `orderField`), and no typo is guessed at."""
    response = auth_client.get(
        "/api/catalog/entities/by-query",
        {"fullTextFilterTerm": "checkout", "orderField": "metadata.name,asc", "limit": 50},
    )
    assert response.status_code == 200
    names = [item["metadata"]["name"] for item in response.json()["items"]]
    assert names == sorted(names)
    assert "checkout-service" in names
    typo = auth_client.get("/api/catalog/entities/by-query", {"fullTextFilterTerm": "chekout"})
    assert typo.json()["items"] == []
