"""A group's page reads its members' JSON and nothing else's, and links its relation targets with the `related_link`
tag exactly as the catalog/_related.html include it replaced did."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

from catalog import selectors
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, UserDictFactory, ingest, new_location

pytestmark = pytest.mark.django_db

# What the catalog/_related.html include rendered before the tag replaced it, kept here to compare with.
_RELATED_TEMPLATE = (
    '{% load catalog_ui %}{% if item.exists %}<a href="{{ item.ref|entity_url }}" class="paved-related" '
    'data-ref="{{ item.ref }}">{% if show_kind %}<span class="badge bg-{{ item.kind|kind_colour }}-lt me-1">'
    '{{ item.kind }}</span>{% endif %}{{ item.title }}</a>{% else %}<span class="paved-missing" '
    'data-ref="{{ item.ref }}" title="{{ item.ref }} is not in the catalog">{% if show_kind %}'
    '<span class="badge bg-secondary-lt me-1">{{ item.parts.kind }}</span>{% endif %}{{ item.ref|ref_label }} '
    '<span class="visually-hidden">(missing)</span></span>{% endif %}'
)


@pytest.fixture
def team() -> Entity:
    people: list[dict[str, Any]] = [
        UserDictFactory(name="ada", member_of=["team-x"]),
        UserDictFactory(name="bob", member_of=["team-x"]),
    ]
    people[0]["spec"]["profile"]["displayName"] = "Ada <Lovelace>"
    ingest(
        [GroupDictFactory(name="team-x", children=["sub-x"]), GroupDictFactory(name="sub-x", parent="team-x"), *people],
        location=new_location(trusted=True),
    )
    owned: list[dict[str, Any]] = [ComponentDictFactory(name=f"svc-{n}", owner="team-x") for n in range(5)]
    owned[0]["metadata"]["title"] = 'Svc "zero" & <friends>'
    ingest(owned)
    return Entity.objects.get(ref="group:default/team-x")


def test_only_members_come_with_their_json(team):
    page = selectors.entity_page(entity=team, tab="")
    assert page.group is not None
    members = page.group.members
    assert [m.ref for m in members] == ["user:default/ada", "user:default/bob"]
    with CaptureQueriesContext(connection) as queries:
        assert members[0].entity is not None
        assert members[0].entity.data["spec"]["profile"]["displayName"] == "Ada <Lovelace>"
        owned = [item for _, items in page.group.owned_by_kind for item in items]
        assert len(owned) == 5
        assert all(item.entity is not None and "data" not in item.entity.__dict__ for item in owned)
        assert all(item.title for item in owned)
    assert len(queries) == 0


def test_a_user_page_reads_no_json_of_its_targets(team):
    user = Entity.objects.get(ref="user:default/ada")
    page = selectors.entity_page(entity=user, tab="")
    targets = [item.entity for items in page.relations.by_type.values() for item in items if item.entity]
    assert targets
    assert all("data" not in entity.__dict__ for entity in targets)


@pytest.mark.parametrize("show_kind", [False, True, ""])
def test_related_link_renders_what_the_include_rendered(team, show_kind):
    page = selectors.entity_page(entity=team, tab="")
    items = [item for items in page.relations.by_type.values() for item in items]
    missing = selectors.RelatedEntity('component:default/gone-<"x">', None)
    items.append(missing)
    old = Template(_RELATED_TEMPLATE)
    new = Template("{% load catalog_ui %}{% related_link item show_kind %}")
    for item in items:
        context = {"item": item, "show_kind": show_kind}
        expected = old.render(Context(context))
        assert new.render(Context(context)) == expected
    assert "&lt;friends&gt;" in "".join(new.render(Context({"item": item})) for item in items)


def test_group_page_shows_members_owned_and_relations(auth_client, team, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = auth_client.get(team.get_absolute_url())
    page = response.content.decode()
    assert "Ada &lt;Lovelace&gt;" in page
    assert "Svc &quot;zero&quot; &amp; &lt;friends&gt;" in page
    assert page.count('class="paved-related" data-ref="component:default/svc-1"') == 2  # owned card, relations card
    assert '<span class="badge bg-blue-lt me-1">Component</span>' in page
