"""Hostile descriptor files and targets: each gives a clear recorded error and leaves what existed intact.

Every test ingests a clean `all.yaml -> good.yaml + victim.yaml` first, then makes victim.yaml (or a target it
names) hostile and refreshes again.
"""

from __future__ import annotations

import os
import socket

import pytest

from catalog import services
from catalog.models import Entity, Location
from tests.catalog.factories import ComponentDictFactory, LocationDictFactory, LocationFactory, write_docs
from tests.catalog.remotes import http_server

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


@pytest.fixture
def catalog(db, tmp_path, settings):
    root = tmp_path / "catalog"
    settings.PAVED_CATALOG_FILE_ROOTS = [str(root)]
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "*.example.com"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = False
    write_docs(root / "all.yaml", [LocationDictFactory(name="all", targets=["./good.yaml", "./victim.yaml"])])
    write_docs(root / "good.yaml", [ComponentDictFactory(name="good")])
    write_docs(root / "victim.yaml", [ComponentDictFactory(name="victim", annotations={"a": "b"})])
    location = LocationFactory(type="file", target=str(root / "all.yaml"), trusted=True)
    services.location_refresh(location=location)
    assert intact(location)
    return root, location


def intact(location: Location) -> bool:
    rows = Entity.objects.filter(location=location, name__in=["good", "victim"], orphan=False)
    victim = Entity.objects.filter(name="victim").first()
    return rows.count() == 2 and victim is not None and victim.data["spec"]["owner"] == "team-a"


def refresh_errors(location: Location) -> str:
    services.location_refresh(location=location)
    location.refresh_from_db()
    return "\n".join(e["message"] for e in location.errors)


def victim_with(**changes) -> list[dict]:
    doc = ComponentDictFactory(name="victim", owner="team-b")
    doc["metadata"].update(changes.pop("metadata", {}))
    doc["spec"].update(changes)
    return [doc]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"kind: [this is not\n", "invalid YAML"),
        (ALIAS_BOMB.encode(), "alias bomb"),
        (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "nests deeper than 50 levels"),
        (b"!!python/object/apply:os.system ['touch /tmp/pwned']\n", "unsupported YAML tag"),
        (b"kind: !Ref secret\n", "unsupported YAML tag"),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
    ],
)
def test_hostile_yaml_is_recorded_and_keeps_the_files_entities(catalog, content, reason):
    root, location = catalog
    (root / "victim.yaml").write_bytes(content)

    errors = refresh_errors(location)

    assert reason in errors
    assert "victim.yaml" in errors
    assert intact(location)


def test_a_40_mib_file_is_refused_before_it_is_read(catalog):
    root, location = catalog
    with open(root / "victim.yaml", "wb") as handle:
        handle.truncate(40 * 1024 * 1024)

    errors = refresh_errors(location)

    assert "victim.yaml: 41943040 bytes, larger than 33554432 bytes" in errors
    assert intact(location)


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"annotations": {"count": 3}}, "metadata.annotations.count: expected a string, found 3"),
        ({"links": [{"url": "javascript:alert(1)"}]}, "metadata.links[0].url"),
        ({"tags": ["Not A Tag!"]}, "metadata.tags[0]"),
    ],
)
def test_invalid_fields_keep_the_last_good_version_with_the_error(catalog, metadata, reason):
    root, location = catalog
    write_docs(root / "victim.yaml", victim_with(metadata=metadata))

    errors = refresh_errors(location)

    assert reason in errors
    assert "component:default/victim" in errors
    assert intact(location)
    assert Entity.objects.get(name="victim").errors


def test_an_invalid_name_is_recorded_and_changes_nothing_else(catalog):
    root, location = catalog
    write_docs(
        root / "victim.yaml",
        [ComponentDictFactory(name="victim", annotations={"a": "b"}), ComponentDictFactory(name="bad name!")],
    )

    errors = refresh_errors(location)

    assert "metadata.name" in errors
    assert "bad name!" in errors
    assert intact(location)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("https://evil.test/spec.yaml", "host not allowed: evil.test"),
        ("http://127.0.0.1/spec.yaml", "resolves to a loopback address 127.0.0.1"),
        ("http://10.0.0.5/spec.yaml", "resolves to a private address 10.0.0.5"),
        ("http://169.254.169.254/latest/meta-data/", "resolves to a link-local address 169.254.169.254"),
        ("http://[::1]/spec.yaml", "resolves to a loopback address ::1"),
    ],
)
def test_forbidden_placeholder_urls_are_refused_and_recorded(catalog, url, reason):
    root, location = catalog
    write_docs(root / "victim.yaml", victim_with(metadata={"description": {"$text": url}}))

    errors = refresh_errors(location)

    assert url in errors
    assert reason in errors
    assert intact(location)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("https://evil.test/catalog-info.yaml", "host not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"),
        ("http://[::1]/catalog-info.yaml", "loopback address ::1"),
    ],
)
def test_forbidden_nested_url_locations_are_refused_and_recorded(catalog, target, reason):
    root, location = catalog
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="evil", targets=[target], type="url"),
        ],
    )

    errors = refresh_errors(location)

    assert reason in errors
    assert intact(location)


def test_a_redirect_to_a_forbidden_host_is_refused(catalog, settings):
    root, location = catalog
    settings.PAVED_CATALOG_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    routes = {"/spec": (302, {"Location": "http://metadata.google.internal/computeMetadata/v1/"}, b"")}
    with http_server(routes) as base:
        write_docs(root / "victim.yaml", victim_with(metadata={"description": {"$text": f"{base}/spec"}}))
        errors = refresh_errors(location)

    assert "redirect to http://metadata.google.internal/computeMetadata/v1/ refused: host not allowed" in errors
    assert intact(location)


def test_an_unreachable_host_is_recorded(catalog, settings):
    root, location = catalog
    settings.PAVED_CATALOG_ALLOW_PRIVATE_ADDRESSES = True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="gone", targets=[f"http://127.0.0.1:{port}/c.yaml"], type="url"),
        ],
    )

    errors = refresh_errors(location)

    assert f"http://127.0.0.1:{port}/c.yaml: could not connect" in errors
    assert intact(location)


def test_path_traversal_out_of_the_file_roots_is_refused(catalog):
    root, location = catalog
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="up", targets=["../../../etc/passwd"]),
        ],
    )

    errors = refresh_errors(location)

    assert "/etc/passwd: outside the allowed file roots" in errors
    assert intact(location)


def test_a_symlink_escaping_the_roots_is_refused(catalog, tmp_path):
    root, location = catalog
    outside = write_docs(tmp_path / "outside.yaml", [ComponentDictFactory(name="smuggled")])
    os.symlink(outside, root / "link.yaml")
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="link", targets=["./link.yaml"]),
        ],
    )

    errors = refresh_errors(location)

    assert "link.yaml: outside the allowed file roots (it resolves to" in errors
    assert not Entity.objects.filter(name="smuggled").exists()
    assert intact(location)


@pytest.mark.parametrize(
    "target",
    [
        "--upload-pack=touch /tmp/pwned",
        "/srv/repo.git#--output=/tmp/pwned:catalog-info.yaml",
        "/srv/repo.git#main:-c",
        "ext::sh -c touch% /tmp/pwned",
    ],
)
def test_git_targets_with_option_like_values_are_refused(catalog, target):
    root, location = catalog
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="g", targets=[target], type="git"),
        ],
    )

    errors = refresh_errors(location)

    assert target in errors
    assert "must not start with '-'" in errors or "whitespace" in errors
    assert not os.path.exists("/tmp/pwned")
    assert intact(location)


def test_a_location_nesting_itself_forever_stops_at_the_depth_cap(catalog, settings):
    root, location = catalog
    settings.PAVED_CATALOG_MAX_NESTING = 3
    for depth in range(6):
        write_docs(root / f"n{depth}.yaml", [LocationDictFactory(name=f"n{depth}", targets=[f"./n{depth + 1}.yaml"])])
    write_docs(
        root / "victim.yaml",
        [
            ComponentDictFactory(name="victim", annotations={"a": "b"}),
            LocationDictFactory(name="n", targets=["./n0.yaml"]),
        ],
    )

    errors = refresh_errors(location)

    assert "Locations nest deeper than 3 levels" in errors
    assert intact(location)
