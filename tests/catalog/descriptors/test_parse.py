from __future__ import annotations

import pytest

from catalog.descriptors import LocationTarget, parse_file, resolve_relative
from catalog.descriptors.errors import IssueCode
from catalog.descriptors.yamlsafe import Limits


class FakeResolver:
    def __init__(self, files=None):
        self.files = files or {}
        self.calls = []

    def read(self, target, *, relative_to):
        self.calls.append((target, relative_to))
        if target.startswith("https://"):
            raise PermissionError("host not allowed")
        return self.files[resolve_relative(relative_to, target)]


def _component(name="c", extra_spec="", namespace=""):
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}{ns}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n{extra_spec}"
    )


def _api(definition):
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: petstore\n"
        f"spec:\n  type: openapi\n  lifecycle: x\n  owner: team-c\n  definition:\n    {definition}\n"
    )


def test_parses_entities_and_defaults_namespace():
    result = parse_file(_component().encode(), file="repo/catalog-info.yaml", resolver=None)
    assert result.issues == []
    [parsed] = result.entities
    assert parsed.document == 0
    assert parsed.ref == "component:default/c"
    assert parsed.entity["metadata"]["namespace"] == "default"
    assert [r.type for r in parsed.relations] == ["ownedBy", "ownerOf"]


def test_invalid_entity_is_dropped_with_issues_and_others_are_kept():
    data = (_component("ok") + "---\n" + _component("bad name!")).encode()
    result = parse_file(data, file="f.yaml", resolver=None)
    assert [e.ref for e in result.entities] == ["component:default/ok"]
    assert [(i.document, i.path) for i in result.issues] == [(1, "metadata.name")]


def test_null_documents_are_skipped_and_non_mappings_are_issues():
    data = ("---\n---\n" + _component() + "---\n- a list\n---\n").encode()
    result = parse_file(data, file="f.yaml", resolver=None)
    assert len(result.entities) == 1
    [issue] = result.issues
    assert issue.document == 2
    assert issue.message == (
        'f.yaml, document 2: expected a mapping (an entity with apiVersion, kind, metadata and spec), found ["a list"]'
    )


def test_yaml_failure_is_a_single_file_level_issue():
    result = parse_file(b"a: [", file="f.yaml", resolver=None)
    assert result.entities == []
    assert result.issues[0].expected == "well-formed YAML"


def test_duplicate_entity_in_one_file_is_an_issue_on_the_second():
    data = (_component("svc") + "---\n" + _component("SVC", namespace="default")).encode()
    result = parse_file(data, file="f.yaml", resolver=None)
    assert [e.ref for e in result.entities] == ["component:default/svc"]
    [issue] = result.issues
    assert (issue.document, issue.path, issue.found) == (1, "metadata.name", '"SVC"')
    assert issue.message.endswith('duplicate entity "component:default/svc", already defined in document 0')


def test_same_name_in_other_kind_or_namespace_is_not_a_duplicate():
    data = (_component("svc") + "---\n" + _component("svc", namespace="other")).encode()
    assert len(parse_file(data, file="f.yaml", resolver=None).entities) == 2


def test_text_placeholder_is_read_relative_to_the_file():
    resolver = FakeResolver({"repo/apis/petstore.oas.yaml": b"openapi: 3.0.0\n"})
    result = parse_file(_api("$text: ./petstore.oas.yaml").encode(), file="repo/apis/api.yaml", resolver=resolver)
    assert result.issues == []
    assert result.entities[0].entity["spec"]["definition"] == "openapi: 3.0.0\n"
    assert resolver.calls == [("./petstore.oas.yaml", "repo/apis/api.yaml")]


def test_unreadable_placeholder_drops_the_entity_with_the_url_named():
    url = "https://raw.githubusercontent.com/x/y/main/openapi.yaml"
    result = parse_file(_api(f"$text: {url}").encode(), file="api.yaml", resolver=FakeResolver())
    assert result.entities == []
    [issue] = result.issues
    assert (issue.path, issue.expected, issue.found) == ("spec.definition", "a readable $text target", f'"{url}"')
    assert (
        issue.message
        == f"api.yaml, document 0 (api:default/petstore): spec.definition: could not read $text {url}: host not allowed"
    )


def test_placeholder_without_resolver_is_an_issue():
    result = parse_file(_api("$text: ./x").encode(), file="api.yaml", resolver=None)
    assert result.issues[0].message.endswith("could not read $text ./x: no resolver is configured")


def test_json_and_yaml_placeholders_are_parsed():
    resolver = FakeResolver({"d.json": b'{"a": [1, 2]}', "d.yaml": b"b: true\n"})
    extra = "  custom:\n    j:\n      $json: d.json\n    y:\n      $yaml: d.yaml\n"
    result = parse_file(_component(extra_spec=extra).encode(), file="c.yaml", resolver=resolver)
    assert result.issues == []
    assert result.entities[0].entity["spec"]["custom"] == {"j": {"a": [1, 2]}, "y": {"b": True}}


def test_placeholder_lists_are_walked_and_non_placeholders_left_alone():
    resolver = FakeResolver({"t.txt": b"hello"})
    extra = (
        "  items:\n    - $text: t.txt\n    - plain\n"
        "  schema:\n    $ref: '#/definitions/node'\n"
        "  mixed:\n    $text: t.txt\n    other: 1\n"
        "  unknown:\n    $env: HOME\n"
        "  nonstring:\n    $text: [1]\n"
    )
    result = parse_file(_component(extra_spec=extra).encode(), file="c.yaml", resolver=resolver)
    spec = result.entities[0].entity["spec"]
    assert spec["items"] == ["hello", "plain"]
    assert spec["schema"] == {"$ref": "#/definitions/node"}
    assert spec["mixed"] == {"$text": "t.txt", "other": 1}
    assert spec["unknown"] == {"$env": "HOME"}
    assert spec["nonstring"] == {"$text": [1]}


@pytest.mark.parametrize(
    ("placeholder", "content", "reason"),
    [
        ("$yaml", b"a: 1\n---\nb: 2\n", "expected exactly one document of data, found 2"),
        ("$yaml", b"a: !!python/object/apply:os.system [x]\n", "unsupported YAML tag"),
        ("$json", b"{not json", "invalid JSON"),
        ("$json", b'{"a": NaN}', "NaN is not valid JSON"),
        ("$json", b"[" * 60 + b"]" * 60, "nests deeper than 50"),
        ("$text", b"\xff\xfe", "the content is not valid UTF-8"),
        ("$text", b"x" * 2000, "2000 bytes is more than the limit of 1024"),
    ],
)
def test_placeholder_content_goes_through_the_same_limits(placeholder, content, reason):
    resolver = FakeResolver({"d": content})
    extra = f"  custom:\n    {placeholder}: d\n"
    result = parse_file(
        _component(extra_spec=extra).encode(), file="c.yaml", resolver=resolver, limits=Limits(max_bytes=1024)
    )
    assert result.entities == []
    assert reason in result.issues[0].message
    assert result.issues[0].path == "spec.custom"


@pytest.mark.parametrize(
    ("placeholder", "content", "limits", "reason"),
    [
        ("$text", b"x" * 400, Limits(max_bytes=1024), "the file's placeholders pull in more than 1024 bytes in all"),
        # The file itself is 105 nodes; each list 50, so the third finds 20 left.
        ("$json", str(list(range(49))).encode(), Limits(max_nodes=120), "more than 20 values"),
    ],
)
def test_what_all_placeholders_of_a_file_pull_in_is_bounded_together(placeholder, content, limits, reason):
    resolver = FakeResolver({"d": content})
    docs = [_component(name=f"c{i}", extra_spec=f"  custom:\n    {placeholder}: d\n") for i in range(5)]
    result = parse_file("---\n".join(docs).encode(), file="c.yaml", resolver=resolver, limits=limits)
    assert [e.ref for e in result.entities] == ["component:default/c0", "component:default/c1"]
    assert [i.document for i in result.issues] == [2, 3, 4]
    assert reason in result.issues[0].message


def test_placeholders_are_substituted_before_validation():
    resolver = FakeResolver({"owner.txt": b"team-z"})
    extra = ""
    data = _component(extra_spec=extra).replace("owner: team-a", "owner:\n    $text: owner.txt").encode()
    result = parse_file(data, file="c.yaml", resolver=resolver)
    assert result.entities[0].entity["spec"]["owner"] == "team-z"
    assert result.entities[0].relations[0].target == "group:default/team-z"


def _location(spec):
    return f"apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: loc\nspec:\n{spec}".encode()


def test_location_targets_resolve_relative_to_the_file_and_location_is_emitted():
    data = _location("  targets:\n    - ./a.yaml\n    - ../b/c.yaml\n  target: /abs/d.yaml\n")
    result = parse_file(data, file="repo/catalog/all.yaml", resolver=None)
    assert [e.ref for e in result.entities] == ["location:default/loc"]
    assert result.location_targets == [
        LocationTarget("file", "/abs/d.yaml"),
        LocationTarget("file", "repo/catalog/a.yaml"),
        LocationTarget("file", "repo/b/c.yaml"),
    ]


def test_location_type_is_inherited_from_the_parent_and_urls_resolve():
    data = _location("  targets: [./a.yaml, 'https://other.example/x.yaml']\n")
    result = parse_file(
        data, file="https://git.example/org/repo/blob/main/catalog/all.yaml", resolver=None, location_type="url"
    )
    assert result.location_targets == [
        LocationTarget("url", "https://git.example/org/repo/blob/main/catalog/a.yaml"),
        LocationTarget("url", "https://other.example/x.yaml"),
    ]


def test_location_with_other_type_keeps_targets_as_written():
    data = _location("  type: url\n  target: ./x.yaml\n")
    result = parse_file(data, file="repo/all.yaml", resolver=None)
    assert result.location_targets == [LocationTarget("url", "./x.yaml")]


def test_file_location_target_ending_with_slash_is_an_issue():
    data = _location("  targets: [./dir/, ./ok.yaml]\n")
    result = parse_file(data, file="all.yaml", resolver=None)
    assert result.location_targets == [LocationTarget("file", "ok.yaml")]
    assert [(i.path, i.found) for i in result.issues] == [("spec.targets[0]", '"./dir/"')]


def test_entity_supplied_relations_and_status_are_dropped():
    data = (_component() + "relations: [{type: ownedBy, targetRef: 'group:default/evil'}]\nstatus: {}\n").encode()
    entity = parse_file(data, file="c.yaml", resolver=None).entities[0].entity
    assert "relations" not in entity
    assert "status" not in entity


def test_resolve_relative_handles_paths_and_urls():
    assert resolve_relative("a/b/c.yaml", "./d.yaml") == "a/b/d.yaml"
    assert resolve_relative("a/b/c.yaml", "../../../d.yaml") == "../d.yaml"
    assert resolve_relative("/a/b/c.yaml", "/etc/x") == "/etc/x"
    assert resolve_relative("/a/b/c.yaml", "https://h/x") == "https://h/x"
    assert resolve_relative("https://h/r/blob/main/a/c.yaml", "../d.yaml") == "https://h/r/blob/main/d.yaml"
    assert resolve_relative("https://h/r/c.yaml", "HTTP://other/y") == "HTTP://other/y"


def test_name_supplied_by_a_placeholder_gives_the_ref():
    resolver = FakeResolver({"name.txt": b"from-file"})
    data = _component().replace("name: c", "name:\n    $text: name.txt").encode()
    result = parse_file(data, file="c.yaml", resolver=resolver)
    assert [e.ref for e in result.entities] == ["component:default/from-file"]


def test_every_issue_says_what_kind_of_problem_it_is():
    data = "\n---\n".join(
        [
            _component("a"),
            _component("a"),
            _component("b").replace("type: service", "type: 7"),
            _api("$text: https://evil.example.com/x.yaml"),
        ]
    ).encode()

    result = parse_file(data, file="all.yaml", resolver=FakeResolver())

    assert [(issue.document, issue.code) for issue in result.issues] == [
        (1, IssueCode.DUPLICATE),
        (2, IssueCode.VALIDATION),
        (3, IssueCode.PLACEHOLDER),
    ]
    broken = parse_file(b"kind: [not yaml\n", file="broken.yaml", resolver=None)
    assert [issue.code for issue in broken.issues] == [IssueCode.PARSE]
