from __future__ import annotations

import copy

import jsonschema
import pytest

from catalog.descriptors import kind_json_schema, validate_entity
from catalog.descriptors.validate import (
    EXPECT_API_VERSION,
    EXPECT_KEY,
    EXPECT_KIND,
    EXPECT_NAME,
    EXPECT_NAMESPACE,
    EXPECT_TAG,
    EXPECT_URL,
    is_valid_api_version,
    is_valid_label_key,
    is_valid_link_url,
    is_valid_namespace,
    is_valid_tag,
)

COMPONENT = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {
        "name": "my-component",
        "namespace": "the-namespace",
        "labels": {"backstage.io/custom": "ValueStuff"},
        "annotations": {"example.com/bindings": "are-secret"},
        "tags": ["java", "data-service"],
        "links": [{"url": "https://example.org", "title": "Website", "icon": "website", "type": "website"}],
    },
    "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
}


def _component(**changes):
    entity = copy.deepcopy(COMPONENT)
    for dotted, value in changes.items():
        target = entity
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return entity


def _issues(entity):
    return validate_entity(entity, file="c.yaml", document=0)


def _only(entity):
    issues = _issues(entity)
    assert len(issues) == 1, [i.message for i in issues]
    return issues[0]


def test_valid_component_has_no_issues():
    assert _issues(COMPONENT) == []


def test_bad_name_issue_names_everything():
    issue = _only(_component(metadata__name="bad name!"))
    assert issue.file == "c.yaml"
    assert issue.document == 0
    assert issue.entity_ref == "component:the-namespace/bad name!"
    assert issue.path == "metadata.name"
    assert issue.expected == EXPECT_NAME
    assert issue.found == '"bad name!"'
    assert issue.message == (
        "c.yaml, document 0 (component:the-namespace/bad name!): metadata.name: expected a string of at most 63"
        ' characters matching [a-z0-9A-Z] separated by [-_.], found "bad name!"'
    )


@pytest.mark.parametrize("name", ["a" * 64, "-a", "a-", "a b", "a\n", "", 7, "ä"])
def test_invalid_names_are_refused(name):
    issue = _only(_component(metadata__name=name))
    assert issue.path == "metadata.name"


@pytest.mark.parametrize("name", ["a", "a" * 63, "A.b_c-d", "1", "LoremService"])
def test_valid_names_are_accepted(name):
    assert _issues(_component(metadata__name=name)) == []


def test_missing_name_is_reported_as_nothing():
    entity = _component()
    del entity["metadata"]["name"]
    issue = _only(entity)
    assert (issue.path, issue.found, issue.entity_ref) == ("metadata.name", "nothing", None)


@pytest.mark.parametrize("namespace", ["Upper", "a_b", "-a", "a" * 64, 7, ""])
def test_namespace_must_be_a_dns_label(namespace):
    issue = _only(_component(metadata__namespace=namespace))
    assert (issue.path, issue.expected) == ("metadata.namespace", EXPECT_NAMESPACE)


def test_title_and_description_must_be_strings():
    issues = _issues(_component(metadata__title=7, metadata__description=["x"]))
    assert [(i.path, i.expected) for i in issues] == [
        ("metadata.title", "a non-empty string"),
        ("metadata.description", "a string"),
    ]


def test_label_key_and_value_rules():
    issues = _issues(_component(metadata__labels={"a#b": "value", "ok": "a#b", "good/and/bad": "x"}))
    assert [(i.path, i.expected) for i in issues] == [
        ('metadata.labels["a#b"]', EXPECT_KEY),
        ("metadata.labels.ok", "an empty string or " + EXPECT_NAME),
        ('metadata.labels["good/and/bad"]', EXPECT_KEY),
    ]
    assert issues[0].message.endswith(f'metadata.labels["a#b"]: key "a#b": expected {EXPECT_KEY}')


def test_empty_label_value_is_allowed():
    assert _issues(_component(metadata__labels={"a": ""})) == []


def test_annotation_values_must_be_strings():
    issue = _only(_component(metadata__annotations={"example.com/n": 7}))
    assert (issue.path, issue.expected, issue.found) == ('metadata.annotations["example.com/n"]', "a string", "7")


def test_annotation_key_with_long_dns_prefix_is_allowed_up_to_253():
    prefix = ".".join(["a" * 63] * 4)[:253]
    assert _issues(_component(metadata__annotations={f"{prefix}/x": "v"})) == []
    assert _only(_component(metadata__annotations={f"{prefix}a/x": "v"})).expected == EXPECT_KEY


@pytest.mark.parametrize("tag", ["Hello World", "UPPER", "a--b", "-a", "a" * 64, 7, ""])
def test_invalid_tags_are_refused(tag):
    issue = _only(_component(metadata__tags=["ok", tag]))
    assert (issue.path, issue.expected) == ("metadata.tags[1]", EXPECT_TAG)


@pytest.mark.parametrize("tag", ["java", "c++", "c#", "a:b", "data-service", "a1"])
def test_valid_tags_are_accepted(tag):
    assert _issues(_component(metadata__tags=[tag])) == []


def test_tags_must_be_a_list():
    assert _only(_component(metadata__tags="java")).expected == "a list"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://x.org", "invalid", "", "http://", "https://exa mple.org", "http://x:99999"]
)
def test_link_urls_must_be_http_or_https(url):
    issue = _only(_component(metadata__links=[{"url": "http://good"}, {"url": url}]))
    assert (issue.path, issue.expected) == ("metadata.links[1].url", EXPECT_URL)


def test_missing_link_url_and_bad_title_icon_type():
    issues = _issues(_component(metadata__links=[{"title": "", "icon": "not good", "type": 3}, "x"]))
    assert [(i.path, i.found) for i in issues] == [
        ("metadata.links[0].url", "nothing"),
        ("metadata.links[0].title", '""'),
        ("metadata.links[0].icon", '"not good"'),
        ("metadata.links[0].type", "3"),
        ("metadata.links[1]", '"x"'),
    ]


def test_foreign_root_keys_are_refused_but_relations_and_status_allowed():
    entity = _component(extra=1, relations=[], status={})
    issue = _only(entity)
    assert issue.path == "extra"
    assert issue.message.endswith(
        'extra: unknown root key "extra"; allowed are apiVersion, kind, metadata, spec, relations, status'
    )


@pytest.mark.parametrize("api_version", ["a#b", 7, "a/b/c", "backstage.io/", "Back_stage.io/v1"])
def test_bad_api_version_is_refused(api_version):
    issue = _only(_component(apiVersion=api_version))
    assert (issue.path, issue.expected) == ("apiVersion", EXPECT_API_VERSION)


@pytest.mark.parametrize("kind", ["a#b", 7, "1abc", "a" * 64])
def test_bad_kind_is_refused(kind):
    issue = _only(_component(kind=kind))
    assert (issue.path, issue.expected) == ("kind", EXPECT_KIND)


def test_unknown_kind_is_refused_with_the_known_kinds():
    issue = _only(_component(kind="Widget"))
    assert issue.path == "kind"
    assert issue.expected.startswith("a known kind (API, Component, Domain, EscalationPolicy, Group, Location,")


def test_known_kind_with_wrong_api_version_is_refused():
    issue = _only(_component(apiVersion="paved.dev/v1alpha1"))
    assert issue.path == "apiVersion"
    assert issue.expected == "one of backstage.io/v1alpha1, backstage.io/v1beta1 for kind Component"


def test_kind_match_is_case_sensitive_like_backstages_schemas():
    assert _only(_component(kind="component")).path == "kind"


def test_v1beta1_is_accepted():
    assert _issues(_component(apiVersion="backstage.io/v1beta1")) == []


def test_missing_required_spec_fields_each_get_an_issue():
    issues = _issues(_component(spec={"type": "service"}))
    assert [(i.path, i.expected, i.found) for i in issues] == [
        ("spec.lifecycle", "a value (the field is required)", "nothing"),
        ("spec.owner", "a value (the field is required)", "nothing"),
    ]


def test_spec_missing_or_wrong_type():
    entity = _component()
    del entity["spec"]
    assert (_only(entity).path, _only(entity).expected) == ("spec", "a mapping")
    issue = _only(_component(spec="nope"))
    assert (issue.path, issue.expected, issue.found) == ("spec", "a mapping", '"nope"')


def test_spec_field_types_and_min_length():
    issues = _issues(_component(spec__owner="", spec__providesApis="api-a"))
    assert [(i.path, i.expected) for i in issues] == [
        ("spec.owner", "a non-empty string"),
        ("spec.providesApis", "a list"),
    ]


def test_metadata_must_be_a_mapping():
    issue = _only(_component(metadata=["x"]))
    assert (issue.path, issue.expected) == ("metadata", "a mapping")


def test_non_mapping_document_is_one_issue():
    issue = validate_entity(["a"], file="c.yaml", document=2)[0]
    assert issue.message.startswith("c.yaml, document 2: expected a mapping")


def test_depends_on_without_kind_is_refused():
    issue = _only(_component(spec__dependsOn=["resource:db", "db"]))
    assert issue.path == "spec.dependsOn[1]"
    assert issue.expected == "an entity reference with a kind, <kind>:[<namespace>/]<name>"
    assert "had missing or empty kind" in issue.message


def test_malformed_owner_ref_is_refused():
    issue = _only(_component(spec__owner="a:b:c"))
    assert issue.path == "spec.owner"
    assert 'Entity reference "a:b:c" was not on the form' in issue.message


@pytest.mark.parametrize(
    ("kind", "spec", "missing"),
    [
        ("API", {"type": "openapi", "lifecycle": "x", "owner": "o"}, ["spec.definition"]),
        ("Resource", {"type": "db"}, ["spec.owner"]),
        ("System", {}, ["spec.owner"]),
        ("Domain", {}, ["spec.owner"]),
        ("Group", {"type": "team"}, ["spec.children"]),
        ("User", {}, ["spec.memberOf"]),
    ],
)
def test_required_spec_fields_per_builtin_kind(kind, spec, missing):
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert [i.path for i in _issues(entity)] == missing


def test_location_needs_no_spec_fields_but_checks_presence():
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "x"}, "spec": {}}
    assert _issues(entity) == []
    entity["spec"] = {"presence": "maybe"}
    assert _only(entity).expected == 'one of "required", "optional"'


def test_template_v1beta3_rules():
    entity = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "t"},
        "spec": {"type": "service", "steps": [{"id": "x"}], "parameters": "nope"},
    }
    assert [(i.path, i.expected) for i in _issues(entity)] == [
        ("spec.parameters", "a mapping or a list"),
        ("spec.steps[0].action", "a value (the field is required)"),
    ]


def test_label_key_prefix_rules_directly():
    assert is_valid_label_key("backstage.io/custom")
    assert is_valid_label_key("custom")
    assert not is_valid_label_key("a/b/c")
    assert not is_valid_label_key("/x")
    assert is_valid_api_version("v1")
    assert is_valid_namespace("a-b")
    assert not is_valid_namespace("a-b\n")
    assert not is_valid_tag("java\n")
    assert is_valid_link_url("HTTPS://EXAMPLE.ORG/path?q=1")


def test_kind_json_schema_describes_whole_entity_and_accepts_valid_entities():
    schema = kind_json_schema("Component")
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["properties"]["apiVersion"] == {"enum": ["backstage.io/v1alpha1", "backstage.io/v1beta1"]}
    assert schema["properties"]["spec"]["required"] == ["type", "lifecycle", "owner"]
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors(COMPONENT)) == []
    assert list(validator.iter_errors(_component(extra=1)))
    assert list(validator.iter_errors(_component(metadata__name="bad name!")))
    assert list(validator.iter_errors(_component(metadata__links=[{"url": "javascript:alert(1)"}])))


@pytest.mark.parametrize(
    "kind",
    [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Location",
        "Template",
        "Schedule",
        "EscalationPolicy",
        "Scorecard",
    ],
)
def test_every_registered_kind_publishes_a_valid_schema(kind):
    jsonschema.Draft7Validator.check_schema(kind_json_schema(kind))


def test_kind_json_schema_of_unknown_kind_raises():
    with pytest.raises(KeyError):
        kind_json_schema("Widget")
