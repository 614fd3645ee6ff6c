from __future__ import annotations

from catalog.descriptors import Relation, relations_for
from catalog.descriptors.kinds import INVERSE_RELATIONS


def _entity(kind, spec, namespace=None, api_version="backstage.io/v1alpha1"):
    metadata = {"name": "self"}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def _pairs(entity):
    return [(r.type, r.source, r.target) for r in relations_for(entity)]


def test_component_emits_both_directions_with_default_kinds():
    entity = _entity(
        "Component",
        {
            "type": "service",
            "lifecycle": "x",
            "owner": "team-a",
            "system": "sys",
            "subcomponentOf": "parent",
            "providesApis": ["api-a"],
            "consumesApis": ["other/api-b"],
            "dependsOn": ["resource:db"],
            "dependencyOf": ["component:up"],
        },
    )
    me = "component:default/self"
    assert _pairs(entity) == [
        ("ownedBy", me, "group:default/team-a"),
        ("ownerOf", "group:default/team-a", me),
        ("partOf", me, "component:default/parent"),
        ("hasPart", "component:default/parent", me),
        ("providesApi", me, "api:default/api-a"),
        ("apiProvidedBy", "api:default/api-a", me),
        ("consumesApi", me, "api:other/api-b"),
        ("apiConsumedBy", "api:other/api-b", me),
        ("dependsOn", me, "resource:default/db"),
        ("dependencyOf", "resource:default/db", me),
        ("dependencyOf", me, "component:default/up"),
        ("dependsOn", "component:default/up", me),
        ("partOf", me, "system:default/sys"),
        ("hasPart", "system:default/sys", me),
    ]


def test_namespace_defaults_to_the_referring_entitys_and_refs_are_lower_cased():
    entity = _entity("API", {"owner": "User:Jane.Doe", "system": "Sys"}, namespace="Ops")
    assert _pairs(entity) == [
        ("ownedBy", "api:ops/self", "user:ops/jane.doe"),
        ("ownerOf", "user:ops/jane.doe", "api:ops/self"),
        ("partOf", "api:ops/self", "system:ops/sys"),
        ("hasPart", "system:ops/sys", "api:ops/self"),
    ]


def test_group_user_system_domain_resource_relations():
    assert _pairs(_entity("Group", {"parent": "p", "children": ["c"], "members": ["m"]})) == [
        ("childOf", "group:default/self", "group:default/p"),
        ("parentOf", "group:default/p", "group:default/self"),
        ("parentOf", "group:default/self", "group:default/c"),
        ("childOf", "group:default/c", "group:default/self"),
        ("hasMember", "group:default/self", "user:default/m"),
        ("memberOf", "user:default/m", "group:default/self"),
    ]
    assert _pairs(_entity("User", {"memberOf": ["g"]})) == [
        ("memberOf", "user:default/self", "group:default/g"),
        ("hasMember", "group:default/g", "user:default/self"),
    ]
    assert [r[2] for r in _pairs(_entity("System", {"owner": "o", "domain": "d"}))][::2] == [
        "group:default/o",
        "domain:default/d",
    ]
    assert _pairs(_entity("Domain", {"owner": "o", "subdomainOf": "top"}))[2:] == [
        ("partOf", "domain:default/self", "domain:default/top"),
        ("hasPart", "domain:default/top", "domain:default/self"),
    ]
    resource = _entity("Resource", {"owner": "o", "dependsOn": ["component:c"], "dependencyOf": ["component:d"]})
    assert [r[0] for r in _pairs(resource)] == [
        "ownedBy",
        "ownerOf",
        "dependsOn",
        "dependencyOf",
        "dependencyOf",
        "dependsOn",
    ]


def test_template_and_paved_kinds_relate_to_their_owner_group():
    template = _entity(
        "Template", {"owner": "t", "type": "x", "steps": []}, api_version="scaffolder.backstage.io/v1beta3"
    )
    assert _pairs(template)[0] == ("ownedBy", "template:default/self", "group:default/t")
    for kind in ("Schedule", "EscalationPolicy", "Scorecard"):
        entity = _entity(kind, {"owner": "payments"}, api_version="paved.dev/v1alpha1")
        assert _pairs(entity)[0] == ("ownedBy", f"{kind.lower()}:default/self", "group:default/payments")


def test_depends_on_without_kind_is_skipped_here():
    entity = _entity("Component", {"owner": "o", "dependsOn": ["db", "resource:db"]})
    assert ("dependsOn", "component:default/self", "resource:default/db") in _pairs(entity)
    assert len(_pairs(entity)) == 4


def test_duplicate_references_are_deduplicated():
    entity = _entity("Component", {"owner": "o", "providesApis": ["a", "A", "api:default/a"]})
    assert len(relations_for(entity)) == 4


def test_unknown_kind_or_bad_entity_has_no_relations():
    assert relations_for(_entity("Widget", {"owner": "o"})) == []
    assert relations_for({"kind": "Component"}) == []
    assert relations_for(_entity("Component", "not a mapping")) == []


def test_every_relation_has_its_inverse():
    entity = _entity(
        "Component",
        {"owner": "o", "system": "s", "providesApis": ["a"], "consumesApis": ["b"], "dependsOn": ["resource:r"]},
    )
    relations = set(relations_for(entity))
    for relation in relations:
        assert Relation(INVERSE_RELATIONS[relation.type], relation.target, relation.source) in relations
