"""Backstage's own example catalog must load into exactly the counts its PROVENANCE.md lists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from catalog.descriptors import parse_file, resolve_relative
from tests.paths import conformance_dir

ROOT = conformance_dir()

GITHUB_URLS = [
    "https://github.com/APIs-guru/openapi-directory/blob/dab6854d4d599aafb0eb36e6c7ae1fe0c37509b7/APIs/spotify.com/2021.4.2/openapi.yaml",
    "https://github.com/APIs-guru/openapi-directory/blob/main/APIs/archive.org/wayback/1.0.0/openapi.yaml",
    "https://github.com/APIs-guru/openapi-directory/blob/main/APIs/archive.org/search/1.0.0/openapi.yaml",
]


class DiskResolver:
    """Reads local files; refuses http(s) like a catalog with no internet, or answers from `urls`."""

    def __init__(self, urls=None):
        self.urls = urls or {}

    def read(self, target, *, relative_to):
        resolved = resolve_relative(relative_to, target)
        if resolved.startswith(("http://", "https://")):
            if resolved in self.urls:
                return self.urls[resolved]
            raise PermissionError("host not allowed")
        return Path(resolved).read_bytes()


def _walk(resolver, roots=("all.yaml", "acme-corp.yaml")):
    queue = [str(ROOT / name) for name in roots]
    seen, entities, issues = set(), [], []
    while queue:
        file = queue.pop(0)
        if file in seen:
            continue
        seen.add(file)
        result = parse_file(Path(file).read_bytes(), file=file, resolver=resolver)
        entities += result.entities
        issues += result.issues
        queue += [t.target for t in result.location_targets if t.type == "file"]
    return entities, issues


def test_offline_catalog_yields_59_entities_by_kind():
    entities, _ = _walk(DiskResolver())
    assert Counter(e.entity["kind"] for e in entities) == {
        "Location": 8,
        "Group": 8,
        "User": 17,
        "Component": 13,
        "API": 6,
        "System": 3,
        "Domain": 3,
        "Resource": 1,
    }
    assert len(entities) == 59


def test_offline_the_three_github_apis_fail_naming_their_url():
    _, issues = _walk(DiskResolver())
    assert len(issues) == 3
    for issue in issues:
        assert issue.path == "spec.definition"
        assert issue.message.endswith(": host not allowed")
    messages = " ".join(i.message for i in issues)
    for url in GITHUB_URLS:
        assert f"could not read $text {url}: host not allowed" in messages
    assert sorted(i.entity_ref for i in issues) == [
        "api:default/spotify",
        "api:default/wayback-archive",
        "api:default/wayback-search",
    ]


def test_local_text_placeholders_resolve_against_the_apis_own_file():
    entities, _ = _walk(DiskResolver())
    by_ref = {e.ref: e.entity for e in entities}
    petstore = (ROOT / "apis" / "petstore.oas.yaml").read_text()
    assert by_ref["api:default/petstore"]["spec"]["definition"] == petstore
    webhook = (ROOT / "apis" / "petstore-webhook.oas.yaml").read_text()
    assert by_ref["api:default/petstore-webhook"]["spec"]["definition"] == webhook


def test_online_catalog_yields_62_entities_and_166_resolving_relations():
    entities, issues = _walk(DiskResolver(dict.fromkeys(GITHUB_URLS, b"openapi: 3.0.0\n")))
    assert issues == []
    assert len(entities) == 62
    refs = {e.ref for e in entities}
    relations = [r for e in entities for r in e.relations]
    assert len(relations) == 166
    assert all(r.source in refs and r.target in refs for r in relations)


def test_scaffolder_templates_and_create_app_examples_parse():
    files = {
        "_scaffolder-sample-templates/bitbucket-demo/template.yaml": ["template:default/bitbucket-demo"],
        "_scaffolder-sample-templates/notifications-demo/template.yaml": ["template:default/notifications-demo"],
        "_create-app-examples/template/template.yaml": ["template:default/example-nodejs-template"],
        "_create-app-examples/entities.yaml": [
            "system:default/examples",
            "component:default/example-website",
            "api:default/example-grpc-api",
        ],
        "_create-app-examples/org.yaml": ["user:default/guest", "group:default/guests"],
    }
    for name, refs in files.items():
        result = parse_file((ROOT / name).read_bytes(), file=str(ROOT / name), resolver=DiskResolver())
        assert result.issues == []
        assert [e.ref for e in result.entities] == refs
