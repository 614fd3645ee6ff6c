"""Repository and template facts read through GitHub's and GitLab's REST APIs (answers replayed with `responses`: no
request leaves the test)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
import responses

from scorecards.facts import git, hosts, repo, template
from scorecards.facts.view import CatalogView, EntityRow
from tests.scorecards.hosted import (
    GH,
    GITHUB_SHOP,
    GITLAB_SHOP,
    GITLAB_TOKEN,
    GL,
    HEAD,
    MOVED,
    TOKEN,
    b64,
    configure,
    github_file,
    github_head,
    gitlab_file,
    gitlab_head,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REF = "component:default/shop"


@pytest.fixture(autouse=True)
def integrations(settings):
    configure(settings)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def view_with(location: str) -> CatalogView:
    annotations = {"backstage.io/source-location": location}
    data = {"kind": "Component", "metadata": {"name": "shop", "namespace": "default", "annotations": annotations}}
    return CatalogView(entities={REF: EntityRow(REF, "Component", "default", "group:default/payments", data)})


def collect(location: str, *paths: str, stored=None):
    keys = {f"repo.file:{path}" for path in paths}
    facts = repo.collect(view_with(location), {REF: keys}, NOW, stored or {})[REF]
    return {fact.key: fact for fact in facts}


def no_token_anywhere(api, facts) -> None:
    for fact in facts.values():
        text = json.dumps([fact.value, fact.source, fact.error])
        assert TOKEN not in text
        assert GITLAB_TOKEN not in text
    assert all(TOKEN not in call.request.url and GITLAB_TOKEN not in call.request.url for call in api.calls)


# -- which repository a URL names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ref", "expected"),
    [
        ("https://github.com/acme/shop", "", ("github", "github.com", "acme/shop", "HEAD")),
        ("https://github.com/acme/shop.git", "", ("github", "github.com", "acme/shop", "HEAD")),
        ("https://github.com/acme/shop/tree/main/", "", ("github", "github.com", "acme/shop", "main")),
        (
            "https://github.com/acme/shop/blob/release-2/svc/README.md",
            "",
            ("github", "github.com", "acme/shop", "release-2"),
        ),
        ("https://GitHub.com/acme/shop/tree/main/", "v1.2", ("github", "github.com", "acme/shop", "v1.2")),
        ("https://ghe.example.com/acme/shop/tree/main", "", ("github", "ghe.example.com", "acme/shop", "main")),
        (
            "https://gitlab.example.com/platform/payments/shop/-/tree/main",
            "",
            ("gitlab", "gitlab.example.com", "platform/payments/shop", "main"),
        ),
        ("https://gitlab.example.com/platform/shop.git", "", ("gitlab", "gitlab.example.com", "platform/shop", "HEAD")),
    ],
)
def test_a_web_url_names_the_repository_and_ref_read_through_the_api(url, ref, expected):
    found = hosts.locate(url, ref)

    assert (found.kind, found.host, found.project, found.ref) == expected
    assert found.integration.token == (GITLAB_TOKEN if found.kind == "gitlab" else TOKEN)
    assert TOKEN not in repr(found)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://git.example.org/acme/shop", "repository host git.example.org is not configured: add it to"),
        ("https://github.com.evil.example/acme/shop", "github.com.evil.example is not configured"),
        ("https://gitlab.notoken.example/acme/shop", "has no token configured (set PAVED_GITLAB_TOKEN)"),
        ("https://github.com/acme", "names no repository"),
        ("https://github.com/acme/shop/issues/1", "expected …/acme/shop/tree/<ref>/"),
        ("https://github.com/acme/shop/tree", "expected …/acme/shop/tree/<ref>/"),
        ("https://github.com/acme/../admin/x", "must not contain empty, '.' or '..' segments"),
        ("https://github.com/acme/shop%2F..%2F..%2Fadmin", "must not contain encoded"),
        ("https://github.com/acme/shop/tree/..%2F..%2Fusers", "must not contain encoded"),
        ("https://github.com/acme//shop", "empty"),
        ("https://github.com/-acme/shop", "is not a GitHub account name"),
        ("https://github.com/acme/shop?access_token=x", "has no query string"),
        ("https://github.com/acme/shop/tree/-x", "'-x' is not a valid git ref"),
        ("https://github.com/acme/shop/tree/a..b", "is not a valid git ref"),
        ("https://gitlab.example.com/platform/-/tree/main", "names no project"),
        ("https://gitlab.example.com/.hidden/shop", "is not a GitLab namespace path"),
        ("ftp://github.com/acme/shop", "a repository URL must start with https://"),
        ("https://github.com:99999/acme/shop", "the URL is not valid"),
    ],
)
def test_hostile_or_unknown_repository_urls_are_refused_saying_why(url, message):
    with pytest.raises(hosts.HostError) as raised:
        hosts.locate(url)

    assert message in str(raised.value)


def test_a_ref_after_the_hash_must_be_a_ref():
    with pytest.raises(hosts.HostError, match="is not a valid git ref"):
        hosts.locate("https://github.com/acme/shop", "--upload-pack=touch /tmp/x")


def test_credentials_written_into_the_url_are_refused_and_never_repeated(api):
    facts = collect(f"url:https://me:{TOKEN}@github.com/acme/shop", "README.md")

    error = facts["repo.file:README.md"].error
    assert "credentials in repository URLs are not allowed" in error
    assert TOKEN not in error
    assert len(api.calls) == 0


# -- files -------------------------------------------------------------------------------------------------------------


def test_github_files_present_and_absent_are_read_at_the_head_commit_with_the_token(api):
    api.get(GH, json={"full_name": "acme/shop", "default_branch": "trunk"})
    github_head(api, branch="trunk")
    github_file(api, "README.md", "# Shop\n")
    github_file(api, "docs/guide.md", "guide\n")
    api.get(f"{GH}/contents/Dockerfile?ref={HEAD}", status=404, json={"message": "Not Found"})

    facts = collect("url:https://github.com/acme/shop", "README.md", "docs/guide.md", "Dockerfile")

    assert facts["repo.file:README.md"].value == {"exists": True, "text": "# Shop\n", "truncated": False}
    assert facts["repo.file:docs/guide.md"].value["text"] == "guide\n"
    assert facts["repo.file:Dockerfile"].value == {"exists": False, "text": None, "truncated": False}
    assert facts["repo.file:Dockerfile"].error is None
    assert facts["repo.file:README.md"].source == f"git:https://github.com/acme/shop#HEAD@{HEAD}:README.md"
    parts = git.parse_source(facts["repo.file:README.md"].source)
    assert parts is not None
    assert (parts.repo, parts.ref, parts.commit) == ("https://github.com/acme/shop", "HEAD", HEAD)
    assert {call.request.headers["Authorization"] for call in api.calls} == {f"Bearer {TOKEN}"}
    assert api.calls[1].request.headers["Accept"] == "application/vnd.github.sha"
    no_token_anywhere(api, facts)


def test_github_enterprise_is_read_through_its_own_api_root(api):
    base = "https://ghe.example.com/api/v3/repos/acme/shop"
    api.get(f"{base}/commits/main", body=HEAD)
    api.get(
        f"{base}/contents/README.md?ref={HEAD}",
        json={"type": "file", "path": "README.md", "size": 2, "encoding": "base64", "content": b64("hi")},
    )

    facts = collect("url:https://ghe.example.com/acme/shop/tree/main/", "README.md")

    assert facts["repo.file:README.md"].value["text"] == "hi"
    assert facts["repo.file:README.md"].source.startswith("git:https://ghe.example.com/acme/shop#main@")


def test_github_directories_links_binaries_and_large_files_are_told_as_the_embedded_host_tells_them(api, monkeypatch):
    monkeypatch.setattr(git, "MAX_BLOB_BYTES", 10_000)
    monkeypatch.setattr(git, "MAX_TEXT_CHARS", 1000)
    github_head(api)
    api.get(f"{GH}/contents/docs?ref={HEAD}", json=[{"type": "file", "path": "docs/a.md"}])
    github_file(api, "huge.txt", "", size=20_000, content="")
    # A symbolic link to a file: GitHub answers with the target, whose path differs.
    github_file(api, "link.md", "target\n", path="docs/a.md")
    github_file(api, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    github_file(api, "long.txt", "x" * 5000)
    # Over 1 MB GitHub leaves the content out: the blob has it.
    github_file(api, "mid.txt", "", size=3000, encoding="none", content="")
    api.get(f"{GH}/git/blobs/{'f' * 40}", json={"sha": "f" * 40, "encoding": "base64", "content": b64("m" * 3000)})
    github_file(api, "sub", "", type="submodule", size=0, content="")

    facts = collect(GITHUB_SHOP, "docs", "huge.txt", "link.md", "logo.png", "long.txt", "mid.txt", "sub")

    assert facts["repo.file:docs"].value == {"exists": False, "text": None, "truncated": False}
    assert facts["repo.file:huge.txt"].value == {"exists": True, "text": "", "truncated": True}
    assert facts["repo.file:link.md"].value == {"exists": True, "text": None, "truncated": False}
    assert facts["repo.file:logo.png"].value == {"exists": True, "text": None, "truncated": False}
    assert facts["repo.file:long.txt"].value == {"exists": True, "text": "x" * 1000, "truncated": True}
    assert facts["repo.file:mid.txt"].value == {"exists": True, "text": "m" * 1000, "truncated": True}
    assert facts["repo.file:sub"].value == {"exists": True, "text": None, "truncated": False}


def test_gitlab_files_are_read_by_project_path_and_a_large_one_is_never_downloaded(api, monkeypatch):
    monkeypatch.setattr(git, "MAX_BLOB_BYTES", 100)
    gitlab_head(api)
    gitlab_file(api, "README.md", "# Ledger\n")
    gitlab_file(api, "docs%2Fguide%20one.md", "guide\n")
    api.head(f"{GL}/repository/files/Dockerfile?ref={HEAD}", status=404)
    api.head(f"{GL}/repository/files/big.bin?ref={HEAD}", headers={"X-Gitlab-Size": "5000"})

    facts = collect(GITLAB_SHOP, "README.md", "docs/guide one.md", "Dockerfile", "big.bin")

    assert facts["repo.file:README.md"].value == {"exists": True, "text": "# Ledger\n", "truncated": False}
    assert facts["repo.file:docs/guide one.md"].value["text"] == "guide\n"
    assert facts["repo.file:Dockerfile"].value == {"exists": False, "text": None, "truncated": False}
    assert facts["repo.file:big.bin"].value == {"exists": True, "text": "", "truncated": True}
    assert facts["repo.file:README.md"].source == (
        f"git:https://gitlab.example.com/platform/payments/shop#main@{HEAD}:README.md"
    )
    assert {call.request.headers["Authorization"] for call in api.calls} == {f"Bearer {GITLAB_TOKEN}"}
    assert not any(call.request.method == "GET" and "big.bin" in call.request.url for call in api.calls)
    no_token_anywhere(api, facts)


def test_a_gitlab_project_without_a_ref_is_read_at_its_default_branch(api):
    api.get(GL, json={"id": 7, "path_with_namespace": "platform/payments/shop", "default_branch": "main"})
    gitlab_head(api)
    gitlab_file(api, "README.md", "x")

    facts = collect("url:https://gitlab.example.com/platform/payments/shop", "README.md")

    assert facts["repo.file:README.md"].value["text"] == "x"
    assert "#HEAD@" in facts["repo.file:README.md"].source


@pytest.mark.parametrize("path", ["../secrets", "/etc/passwd", "a/../../b", "nul\x00"])
def test_paths_outside_the_repository_are_refused_before_any_file_is_asked_for(api, path):
    github_head(api)

    facts = collect(GITHUB_SHOP, path)

    assert "is not a path inside a repository" in facts[f"repo.file:{path}"].error
    assert len(api.calls) == 1


def test_path_characters_are_sent_encoded_so_they_name_a_file_not_an_api_route(api):
    github_head(api)
    api.get(f"{GH}/contents/a%252Fb%3Fx%23y?ref={HEAD}", status=404)

    facts = collect(GITHUB_SHOP, "a%2Fb?x#y")

    assert facts["repo.file:a%2Fb?x#y"].value["exists"] is False


def test_an_unchanged_head_asks_for_no_file_and_a_moved_head_reads_again(api):
    github_head(api)
    github_file(api, "a.txt", "one\n")
    first = collect(GITHUB_SHOP, "a.txt")
    stored = {REF: {"repo.file:a.txt": replace(first["repo.file:a.txt"], value={"exists": True, "text": "cached"})}}
    api.reset()

    github_head(api)
    again = collect(GITHUB_SHOP, "a.txt", stored=stored)

    assert again["repo.file:a.txt"].value["text"] == "cached"
    assert len(api.calls) == 1
    api.reset()

    github_head(api, MOVED)
    github_file(api, "a.txt", "two\n", MOVED)
    moved = collect(GITHUB_SHOP, "a.txt", stored=stored)

    assert moved["repo.file:a.txt"].value["text"] == "two\n"


# -- failures: errors for people, never the token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": 500, "json": {"message": "Server Error"}}, "GitHub (github.com) answered 500 to GET"),
        ({"body": requests.exceptions.ReadTimeout()}, "GitHub (github.com) did not answer GET"),
        ({"body": requests.exceptions.ConnectionError()}, "cannot reach GitHub (github.com)"),
        ({"status": 401, "json": {"message": f"Bad credentials {TOKEN}"}}, "the configured token was refused"),
        (
            {
                "status": 403,
                "json": {"message": "API rate limit exceeded"},
                "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1767225600"},
            },
            "is rate limiting the configured token (GET /repos/acme/shop/commits/main answered 403); the limit "
            "resets at 2026-01-01 00:00:00 UTC",
        ),
        ({"status": 429, "headers": {"Retry-After": "60"}}, "is rate limiting the configured token"),
        ({"status": 403, "json": {"message": "Resource not accessible by integration"}}, "may not do this"),
        ({"status": 422, "json": {"message": "No commit found for SHA: main"}}, "the ref does not name a commit"),
        (
            {"status": 404, "json": {"message": "Not Found"}},
            "no such repository or ref, or the configured token cannot see the repository (404 to GET "
            "/repos/acme/shop/commits/main: Not Found)",
        ),
        ({"status": 200, "body": "not a sha"}, "answered without a commit hash"),
        ({"status": 200, "json": {"sha": "short"}}, "answered without a commit hash"),
        (
            {"status": 302, "headers": {"Location": "http://169.254.169.254/latest/meta-data/"}},
            "a redirect to http://169.254.169.254/latest/meta-data/ that is not followed",
        ),
    ],
)
def test_a_host_that_fails_gives_an_error_fact_never_a_failed_check_nor_the_token(api, caplog, answer, message):
    caplog.set_level(logging.DEBUG)
    api.get(f"{GH}/commits/main", **answer)

    facts = collect(GITHUB_SHOP, "README.md")

    fact = facts["repo.file:README.md"]
    assert fact.value is None
    assert message in fact.error
    assert fact.error.startswith("https://github.com/acme/shop")
    assert len(api.calls) == 1  # a redirect is never followed, wherever it points
    no_token_anywhere(api, facts)
    assert TOKEN not in caplog.text


def test_a_file_request_that_fails_keeps_the_value_collected_before_while_it_is_fresh(api):
    github_head(api, MOVED)
    api.get(f"{GH}/contents/README.md?ref={MOVED}", status=502)
    old = {"exists": True, "text": "old", "truncated": False}
    source = f"git:https://github.com/acme/shop#main@{HEAD}:README.md"
    stored = {REF: {"repo.file:README.md": repo.Fact("repo.file:README.md", old, source, NOW)}}

    facts = collect(GITHUB_SHOP, "README.md", stored=stored)

    assert facts["repo.file:README.md"].value == old
    assert facts["repo.file:README.md"].error is None


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"json": {"type": "file", "path": "README.md", "size": 1, "encoding": "base64", "content": "%%"}},
            "not base64",
        ),
        ({"body": "<html>"}, "answered with something other than JSON"),
        ({"json": {"type": "file", "path": "README.md", "size": "1"}}, "answered without the file's size"),
        ({"json": "text"}, "answered with something other than an object"),
    ],
)
def test_an_answer_of_another_shape_is_an_error(api, answer, message):
    github_head(api)
    api.get(f"{GH}/contents/README.md?ref={HEAD}", **answer)

    facts = collect(GITHUB_SHOP, "README.md")

    assert message in facts["repo.file:README.md"].error


def test_each_repository_head_is_asked_for_once_per_batch(api):
    github_head(api)
    github_file(api, "README.md", "x")
    other = "component:default/shop-two"
    base = view_with(GITHUB_SHOP)
    view = CatalogView(entities={**base.entities, other: replace(base.entities[REF], ref=other)})

    found = repo.collect(view, {REF: {"repo.file:README.md"}, other: {"repo.file:README.md"}}, NOW, {})

    assert found[REF][0].value == found[other][0].value == {"exists": True, "text": "x", "truncated": False}
    assert len(api.calls) == 2


# -- template versions -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_template_versions_registered_from_a_github_url_are_its_repository_tags(api):
    from tests.catalog.factories import LocationFactory, ingest

    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "python-service"},
        "spec": {
            "owner": "group:default/platform",
            "type": "service",
            "steps": [{"id": "log", "action": "debug:log", "input": {"message": "hello"}}],
        },
    }
    location = LocationFactory.create(
        type="url", target="https://github.com/acme/templates/blob/main/python/template.yaml"
    )
    result = ingest(
        [document], location=location, source="url:https://github.com/acme/templates/blob/main/python/template.yaml"
    )
    assert result.errors == [], result.errors
    tags_url = "https://api.github.com/repos/acme/templates/tags"
    api.get(f"{tags_url}?per_page=100&page=1", json=[{"name": f"v1.{n}.0"} for n in range(100)])
    api.get(f"{tags_url}?per_page=100&page=2", json=[{"name": "v2.0.0"}, {"nope": 1}])
    key = "template.versions:template:default/python-service"

    found = template.collect({REF: {key}}, NOW, {})[REF][0]

    assert found.error is None
    assert found.value["exists"] is True
    assert len(found.value["versions"]) == 101
    assert "v2.0.0" in found.value["versions"]
    assert found.source == "git:https://github.com/acme/templates#tags"


def test_a_host_that_stops_answering_is_not_asked_again_in_the_batch_while_other_hosts_are(api):
    api.get(f"{GH}/commits/main", body=requests.exceptions.ConnectTimeout())
    gitlab_head(api)
    gitlab_file(api, "README.md", "x")
    rows = {
        "component:default/shop": GITHUB_SHOP,
        "component:default/other": "url:https://github.com/acme/other/tree/main/",
        "component:default/ledger": GITLAB_SHOP,
    }
    base = view_with(GITHUB_SHOP).entities[REF]
    view = CatalogView(
        entities={
            ref: replace(
                base,
                ref=ref,
                data={"kind": "Component", "metadata": {"annotations": {"backstage.io/source-location": location}}},
            )
            for ref, location in rows.items()
        }
    )

    found = repo.collect(view, {ref: {"repo.file:README.md"} for ref in rows}, NOW, {})

    assert "did not answer GET /repos/acme/shop/commits/main" in found["component:default/shop"][0].error
    other = found["component:default/other"][0].error
    assert other.startswith("https://github.com/acme/other: not asked, as github.com failed earlier in this evaluation")
    assert found["component:default/ledger"][0].value["text"] == "x"
    assert [call.request.url.split("?")[0] for call in api.calls].count(f"{GH}/commits/main") == 1
    assert not any("acme/other" in call.request.url for call in api.calls)


def test_a_server_that_answers_the_commit_as_an_object_still_gives_its_sha(api):
    api.get(f"{GH}/commits/main", json={"sha": HEAD, "commit": {"message": "change"}})
    github_file(api, "README.md", "x")

    facts = collect(GITHUB_SHOP, "README.md")

    assert facts["repo.file:README.md"].value["text"] == "x"


def test_a_gitlab_rate_limit_says_when_it_resets(api):
    api.get(f"{GL}/repository/commits/main", status=429, headers={"RateLimit-Reset": "1767225600"})

    facts = collect(GITLAB_SHOP, "README.md")

    assert facts["repo.file:README.md"].error == (
        "https://gitlab.example.com/platform/payments/shop: GitLab (gitlab.example.com) is rate limiting the "
        "configured token (GET /projects/platform%2Fpayments%2Fshop/repository/commits/main answered 429); the limit "
        "resets at 2026-01-01 00:00:00 UTC"
    )


def test_a_malformed_location_says_which_annotation_and_url_once(api):
    facts = collect("url:https://github.com/acme", "README.md")

    assert facts["repo.file:README.md"].error == (
        "backstage.io/source-location 'https://github.com/acme': the URL names no repository: expected "
        "https://<host>/<owner>/<repo>"
    )


def collect_with(annotations: dict[str, str], *paths: str):
    data = {"kind": "Component", "metadata": {"name": "shop", "annotations": annotations}}
    view = CatalogView(entities={REF: EntityRow(REF, "Component", "default", "group:default/payments", data)})
    facts = repo.collect(view, {REF: {f"repo.file:{path}" for path in paths}}, NOW, {})[REF]
    return {fact.key: fact for fact in facts}


@pytest.mark.parametrize(
    ("managed", "branch"),
    [
        ("git:https://github.com/acme/shop.git#main:catalog-info.yaml", "main"),
        ("url:https://github.com/acme/shop/blob/release/catalog-info.yaml", "release"),
    ],
)
def test_without_a_source_location_the_repository_the_entity_was_registered_from_is_read(api, managed, branch):
    github_head(api, branch=branch)
    github_file(api, "README.md", "x")

    facts = collect_with({"backstage.io/managed-by-location": managed}, "README.md")

    assert facts["repo.file:README.md"].value["text"] == "x"
    assert facts["repo.file:README.md"].source.startswith(f"git:https://github.com/acme/shop#{branch}@")


@pytest.mark.parametrize(
    ("managed", "message"),
    [
        ("url:https://files.example.org/acme/catalog-info.yaml", "no repository is known for this entity"),
        ("git:https://git.example.org/acme/shop.git#main:catalog-info.yaml", "git.example.org is not configured"),
        ("git:https://github.com/acme/shop.git#--upload-pack=x:catalog-info.yaml", "is not a valid git ref"),
    ],
)
def test_a_registration_that_names_no_readable_repository_is_an_error(api, managed, message):
    facts = collect_with({"backstage.io/managed-by-location": managed}, "README.md")

    assert message in facts["repo.file:README.md"].error
    assert len(api.calls) == 0
