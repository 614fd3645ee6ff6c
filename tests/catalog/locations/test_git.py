"""The git reader: blobs from local bare repositories, target syntax, and what it refuses."""

from __future__ import annotations

import pytest
import yaml

from catalog.descriptors import LocationTarget
from catalog.locations import GitReader, LocationReadError, parse_target
from tests.catalog.factories import ComponentDictFactory, LocationDictFactory
from tests.catalog.remotes import bare_repo, commit_files


@pytest.fixture
def roots(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def test_parse_target_defaults_to_head_and_catalog_info():
    assert str(parse_target("/srv/git/a.git")) == "/srv/git/a.git#HEAD:catalog-info.yaml"
    assert str(parse_target("/srv/git/a.git#main")) == "/srv/git/a.git#main:catalog-info.yaml"
    assert str(parse_target("/srv/git/a.git#v1.2:catalog/all.yaml")) == "/srv/git/a.git#v1.2:catalog/all.yaml"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("--upload-pack=touch /tmp/pwned", "must not start with '-'"),
        ("/srv/a.git#--output=/tmp/x", "must not start with '-'"),
        ("/srv/a.git#main:--help", "must not start with '-'"),
        ("/srv/a.git#ma..in", "is not a valid git ref"),
        ("/srv/a.git#main:../../etc/passwd", "must name a file inside the repository"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("ext::sh", "only local repositories and https:// URLs"),
        ("ssh://git@example.com/a.git", "only local repositories and https:// URLs"),
        ("git@example.com:a.git", "only local repositories and https:// URLs"),
        ("file:///srv/a.git", "only local repositories and https:// URLs"),
        ("relative/a.git", "needs an absolute path"),
    ],
)
def test_parse_target_refuses_option_like_and_foreign_targets(target, reason):
    with pytest.raises(LocationReadError, match=reason):
        parse_target(target)


def test_parse_target_refuses_remote_hosts_that_are_not_allowed(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["git.example.com"]

    with pytest.raises(LocationReadError, match="host not allowed"):
        parse_target("https://evil.test/a.git#main:catalog-info.yaml")


def test_parse_target_refuses_remote_repositories_on_private_addresses(settings):
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["10.0.0.5"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = False

    with pytest.raises(LocationReadError, match=r"private address 10\.0\.0\.5"):
        parse_target("https://10.0.0.5/a.git")


def test_git_reader_reads_a_blob_at_a_ref(roots):
    repo = bare_repo(roots, {"catalog-info.yaml": yaml.safe_dump(ComponentDictFactory(name="svc"))})
    commit_files(repo, {"catalog-info.yaml": yaml.safe_dump(ComponentDictFactory(name="svc-v2"))})
    reader = GitReader()

    [source] = reader.expand(f"{repo}#main")

    assert b"svc-v2" in reader.read(source)
    assert source == f"{repo}#main:catalog-info.yaml"


def test_git_reader_resolves_nested_locations_and_placeholders_within_the_repository(roots):
    api = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "pets"},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": "a", "definition": {"$text": "openapi.yaml"}},
    }
    repo = bare_repo(
        roots,
        {
            "catalog-info.yaml": yaml.safe_dump(LocationDictFactory(name="root", targets=["./apis/api.yaml"])),
            "apis/api.yaml": yaml.safe_dump(api),
            "apis/openapi.yaml": "openapi: 3.0.0\n",
        },
    )
    reader = GitReader()
    [source] = reader.expand(str(repo))

    root = reader.parse(source, reader.read(source))

    assert root.location_targets == [LocationTarget(type="git", target=f"{repo}#HEAD:apis/api.yaml")]
    nested = root.location_targets[0].target
    parsed = reader.parse(nested, reader.read(nested))
    assert parsed.issues == []
    assert parsed.entities[0].entity["spec"]["definition"] == "openapi: 3.0.0\n"


def test_git_reader_names_the_whole_target_in_issues(roots):
    repo = bare_repo(roots, {"catalog-info.yaml": "kind: [unclosed\n"})
    reader = GitReader()
    [source] = reader.expand(str(repo))

    result = reader.parse(source, reader.read(source))

    assert result.issues[0].message.startswith(f"{repo}#HEAD:catalog-info.yaml")


def test_git_reader_reports_a_missing_file_and_ref(roots):
    repo = bare_repo(roots, {"other.yaml": "x: 1\n"})
    reader = GitReader()

    with pytest.raises(LocationReadError, match=r"catalog-info\.yaml: file not found in the repository"):
        reader.read(reader.expand(str(repo))[0])
    with pytest.raises(LocationReadError, match="no-such-branch"):
        GitReader().expand(f"{repo}#no-such-branch")


def test_git_reader_refuses_repositories_outside_the_roots(tmp_path, settings):
    repo = bare_repo(tmp_path, {"catalog-info.yaml": "x: 1\n"})
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path / "elsewhere")]

    with pytest.raises(LocationReadError, match="outside the allowed repository roots"):
        GitReader().normalise(str(repo))


def test_git_reader_refuses_a_directory_that_is_not_a_repository(roots):
    (roots / "plain").mkdir()

    with pytest.raises(LocationReadError, match="not a git repository"):
        GitReader().normalise(str(roots / "plain"))
