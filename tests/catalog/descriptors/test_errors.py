from __future__ import annotations

from catalog.descriptors.errors import MISSING, Issue, describe, join_path, make_issue


def test_issue_message_names_file_document_ref_path_expected_and_found():
    issue = make_issue(
        file="acme/org.yaml",
        document=3,
        entity_ref="group:default/team-a",
        path="metadata.name",
        expected="a string of at most 63 characters matching [a-z0-9A-Z] separated by [-_.]",
        found="bad name!",
    )
    assert issue.found == '"bad name!"'
    assert issue.message == (
        "acme/org.yaml, document 3 (group:default/team-a): metadata.name: expected a string of at most 63"
        ' characters matching [a-z0-9A-Z] separated by [-_.], found "bad name!"'
    )
    assert str(issue) == issue.message


def test_issue_message_without_document_or_ref_or_path():
    issue = Issue(file="f.yaml", document=None, entity_ref=None, path="", expected="UTF-8 text", found="byte 0xff")
    assert issue.message == "f.yaml: expected UTF-8 text, found byte 0xff"


def test_issue_detail_replaces_expected_found_sentence():
    issue = make_issue(
        file="a.yaml", document=0, entity_ref="api:default/x", path="spec.definition", expected="e", detail="boom"
    )
    assert issue.message == "a.yaml, document 0 (api:default/x): spec.definition: boom"


def test_describe_truncates_long_values_to_80_characters():
    text = describe("a" * 1000)
    assert len(text) == 80
    assert text.endswith("…")
    assert text.startswith('"aaa')


def test_describe_missing_reads_nothing_and_renders_json_like_values():
    assert describe(MISSING) == "nothing"
    assert describe(None) == "null"
    assert describe(7) == "7"
    assert describe({"a": [1, True]}) == '{"a": [1, true]}'
    assert describe(object()).startswith('"<object object')


def test_join_path_quotes_keys_with_dots_and_slashes():
    assert join_path("metadata.links", 0) == "metadata.links[0]"
    assert join_path("spec", "owner") == "spec.owner"
    assert join_path("", "spec") == "spec"
    assert join_path("metadata.annotations", "backstage.io/x") == 'metadata.annotations["backstage.io/x"]'
