"""The file reader: files, directories and globs, confined to the configured roots."""

from __future__ import annotations

import os

import pytest

from catalog.locations import FileReader, LocationReadError
from catalog.locations.file import DEMO_ROOT
from tests.catalog.factories import ComponentDictFactory, write_docs


def test_file_reader_expands_a_directory_to_its_yaml_files(root):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    write_docs(root / "b.yml", [ComponentDictFactory(name="b")])
    (root / "notes.txt").write_text("not a descriptor")

    assert FileReader().expand(str(root)) == [str(root / "a.yaml"), str(root / "b.yml")]


def test_file_reader_expands_a_recursive_glob(root):
    write_docs(root / "x" / "one.yaml", [ComponentDictFactory(name="one")])
    write_docs(root / "x" / "y" / "two.yaml", [ComponentDictFactory(name="two")])

    assert FileReader().expand(str(root / "**" / "*.yaml")) == [
        str(root / "x" / "one.yaml"),
        str(root / "x" / "y" / "two.yaml"),
    ]


def test_file_reader_reports_a_glob_matching_nothing(root):
    with pytest.raises(LocationReadError, match="no files match"):
        FileReader().expand(str(root / "*.yaml"))


def test_file_reader_refuses_paths_outside_the_roots(root, tmp_path):
    outside = write_docs(tmp_path / "elsewhere.yaml", [ComponentDictFactory(name="x")])

    with pytest.raises(LocationReadError, match="outside the allowed file roots"):
        FileReader().normalise(str(outside))
    with pytest.raises(LocationReadError, match="outside the allowed file roots"):
        FileReader().read(str(root / ".." / "elsewhere.yaml"))


def test_file_reader_refuses_a_symlink_that_escapes_the_roots(root, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2")
    os.symlink(secret, root / "link.yaml")

    with pytest.raises(LocationReadError, match=r"outside the allowed file roots \(it resolves to .*secret\.yaml\)"):
        FileReader().read(str(root / "link.yaml"))


def test_file_reader_refuses_relative_paths(root):
    with pytest.raises(LocationReadError, match="needs an absolute path"):
        FileReader().normalise("catalog-info.yaml")


def test_file_reader_checks_the_size_before_reading(root):
    big = root / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(40 * 1024 * 1024)

    with pytest.raises(LocationReadError, match="41943040 bytes, larger than 33554432 bytes"):
        FileReader().read(str(big))


def test_file_reader_always_allows_the_demo_organisation(settings):
    settings.PAVED_CATALOG_FILE_ROOTS = []

    assert FileReader().normalise(str(DEMO_ROOT / "org" / "all.yaml")).endswith("portal/demo/org/all.yaml")


def test_file_reader_resolves_text_placeholders_next_to_the_file(root):
    (root / "openapi.yaml").write_text("openapi: 3.0.0\n")
    api = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "pets"},
        "spec": {
            "type": "openapi",
            "lifecycle": "production",
            "owner": "team-a",
            "definition": {"$text": "./openapi.yaml"},
        },
    }
    path = write_docs(root / "api.yaml", [api])
    reader = FileReader()

    result = reader.parse(str(path), reader.read(str(path)))

    assert result.issues == []
    assert result.entities[0].entity["spec"]["definition"] == "openapi: 3.0.0\n"


def test_file_reader_refuses_placeholders_escaping_the_roots(root, tmp_path):
    (tmp_path / "private.txt").write_text("secret")
    api = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "pets"},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": "a", "definition": {"$text": "../private.txt"}},
    }
    path = write_docs(root / "api.yaml", [api])
    reader = FileReader()

    result = reader.parse(str(path), reader.read(str(path)))

    assert result.entities == []
    assert "outside the allowed file roots" in result.issues[0].message
