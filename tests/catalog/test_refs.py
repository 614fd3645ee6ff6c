from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from catalog.models import Entity
from catalog.refs import EntityRef, ref_url

_part = st.from_regex(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,20}", fullmatch=True)


@pytest.mark.parametrize(
    ("ref", "url"),
    [
        ("group:default/payments", reverse("catalog:entity_detail", args=["default", "group", "payments"])),
        ("Group:Ops/SRE", reverse("catalog:entity_detail", args=["ops", "group", "sre"])),
        ("component:checkout", reverse("catalog:entity_detail", args=["default", "component", "checkout"])),
        (
            EntityRef("API", "default", "Payments-API"),
            reverse("catalog:entity_detail", args=["default", "api", "payments-api"]),
        ),
        ("payments", ""),  # no kind: no page to link to
        ("a:b:c", ""),
        ("", ""),
    ],
)
def test_ref_url_links_a_ref_to_its_catalog_page(ref, url):
    assert ref_url(ref) == url


@given(kind=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True), namespace=_part, name=_part)
def test_ref_url_leads_to_the_entity_page_of_the_ref(kind, namespace, name):
    match = resolve(ref_url(f"{kind}:{namespace}/{name}"))
    assert match.view_name == "catalog:entity_detail"
    assert match.kwargs == {"namespace": namespace.lower(), "kind": kind.lower(), "name": name.lower()}


def test_entity_absolute_url_is_the_url_of_its_ref():
    entity = Entity(ref="component:default/checkout", kind="Component", namespace="default", name="Checkout")
    assert (
        entity.get_absolute_url()
        == ref_url(entity.ref)
        == reverse("catalog:entity_detail", args=["default", "component", "checkout"])
    )


def test_template_filters_link_and_label_entities_and_refs_alike():
    template = Template(
        "{% load catalog_ui %}"
        "{{ entity|entity_url }} {{ ref|entity_url }} {{ parts|entity_url }} [{{ partial|entity_url }}] "
        "{{ ref|ref_label }} {{ other|ref_label }} {{ other|ref_label:'group' }} {{ missing|ref_label }}"
    )
    context = Context(
        {
            "entity": Entity(ref="group:ops/sre", kind="Group", namespace="ops", name="sre"),
            "ref": "Group:Ops/SRE",
            "parts": EntityRef("group", "ops", "sre"),
            "partial": "sre",
            "other": "user:default/alice",
            "missing": None,
        }
    )
    assert template.render(context) == (
        "/catalog/ops/group/sre/ /catalog/ops/group/sre/ /catalog/ops/group/sre/ [] ops/sre alice user:alice "
    )
