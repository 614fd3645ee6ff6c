from __future__ import annotations

import time

import pytest
import yaml

from catalog.descriptors.yamlsafe import DEFAULT_LIMITS, Limits, YamlError, count_nodes, load_documents, to_plain


def _error(data: bytes, limits: Limits = DEFAULT_LIMITS) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_documents(data, file="x.yaml", limits=limits)
    return info.value


def test_uses_libyaml_c_loader():
    assert yaml.__with_libyaml__


def test_loads_multiple_documents_and_keeps_empty_ones_as_none():
    docs = load_documents(b"a: 1\n---\n---\nb: [x, y]\n", file="x.yaml")
    assert docs == [{"a": 1}, None, {"b": ["x", "y"]}]


def test_scalars_resolve_as_yaml_1_2_core_like_backstage():
    docs = load_documents(
        b"date: 2021-11-10\nyes_word: yes\non_word: on\noctal_like: 010\nhex: 0x1f\nflt: 1.5\nnul: ~\nt: True\n",
        file="x.yaml",
    )
    assert docs == [
        {
            "date": "2021-11-10",
            "yes_word": "yes",
            "on_word": "on",
            "octal_like": 10,
            "hex": 31,
            "flt": 1.5,
            "nul": None,
            "t": True,
        }
    ]


def test_explicit_timestamp_and_non_string_keys_become_json_values():
    docs = load_documents(b"a: !!timestamp 2020-01-02\n1: one\ntrue: yes\n", file="x.yaml")
    assert docs == [{"a": "2020-01-02", "1": "one", "true": "yes"}]


def test_aliases_are_expanded_into_independent_copies():
    docs = load_documents(b"a: &x {k: [1]}\nb: *x\n", file="x.yaml")
    assert docs == [{"a": {"k": [1]}, "b": {"k": [1]}}]
    assert docs[0]["a"] is not docs[0]["b"]  # type: ignore[index]


def test_file_over_max_bytes_is_refused_before_parsing():
    data = b"a: " + b"x" * (32 * 1024 * 1024) + b"\n"
    started = time.monotonic()
    issue = _error(data).issue
    assert time.monotonic() - started < 0.5
    assert issue.document is None
    assert issue.expected == "at most 33554432 bytes"
    assert issue.found == f"{len(data)} bytes"
    assert issue.message == f"x.yaml: the file is {len(data)} bytes, more than the limit of 33554432"


def _billion_laughs() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 9)}]")
    return "\n".join(lines).encode()


def test_billion_laughs_is_refused_quickly():
    started = time.monotonic()
    issue = _error(_billion_laughs(), Limits(max_aliases=1000)).issue
    assert time.monotonic() - started < 2
    assert issue.expected == "at most 200000 values copied by aliases in a document"
    assert "alias bomb" in issue.message


def test_alias_expansion_is_bounded_by_the_file_node_budget_too():
    issue = _error(_billion_laughs(), Limits(max_aliases=1000, max_nodes=5000)).issue
    assert issue.expected == "at most 5000 values after expanding aliases"


def test_aliases_copying_small_values_in_every_document_are_accepted():
    doc = "defaults: &d {team: a, tags: [x, y]}\nuser:\n  <<: *d\n  extra: *d\n"
    docs = load_documents(("---\n" + doc).encode() * 3000, file="x.yaml")
    assert len(docs) == 3000
    assert docs[-1]["user"] == {"team": "a", "tags": ["x", "y"], "extra": {"team": "a", "tags": ["x", "y"]}}  # type: ignore[index]


def test_alias_copies_are_bounded_per_document_and_by_the_file_node_budget():
    doc = "base: &b [1, 2, 3, 4, 5, 6, 7, 8, 9]\ncopies: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    data = ("---\n" + doc).encode() * 30
    assert len(load_documents(data, file="x.yaml", limits=Limits(max_alias_nodes=100))) == 30

    issue = _error(data, Limits(max_alias_nodes=99)).issue
    assert issue.expected == "at most 99 values copied by aliases in a document"
    assert issue.document == 0

    issue = _error(data, Limits(max_nodes=1000)).issue
    assert issue.expected == "at most 1000 values after expanding aliases"
    assert issue.document == 8


def test_too_many_aliases_in_one_document_are_refused_from_the_event_stream():
    data = ("base: &b 1\n" + "".join(f"k{i}: *b\n" for i in range(101))).encode()
    issue = _error(data).issue
    assert issue.expected == "at most 100 YAML aliases in a document"
    assert issue.document == 0
    assert "line 102" in issue.message


def test_the_alias_count_starts_again_in_every_document():
    doc = "base: &b 1\n" + "".join(f"k{i}: *b\n" for i in range(100))
    assert len(load_documents(("---\n" + doc).encode() * 20, file="x.yaml")) == 20


def test_a_file_with_more_nodes_than_the_budget_is_refused_before_constructing_anything(monkeypatch):
    from catalog.descriptors import yamlsafe

    constructed = []
    monkeypatch.setattr(yamlsafe, "_iter_documents", lambda text: constructed.append(text) or iter(()))
    issue = _error(b"---\n[1, 2, 3, 4, 5]\n" * 10, Limits(max_nodes=40)).issue
    assert issue.expected == "at most 40 values (keys, scalars, lists and mappings)"
    assert issue.message == "x.yaml, document 6: the file holds more than 40 values (keys, scalars, lists and mappings)"
    assert constructed == []


def test_nesting_deeper_than_50_is_refused():
    data = ("a: " + "[" * 60 + "]" * 60 + "\n").encode()
    issue = _error(data).issue
    assert issue.expected == "nesting at most 50 levels deep"
    assert issue.found == "deeper than 50"


def test_nesting_of_exactly_50_is_accepted():
    data = ("[" * 50 + "]" * 50 + "\n").encode()
    assert load_documents(data, file="x.yaml")


def test_depth_gained_through_aliases_is_refused():
    deep = "[" * 30 + "]" * 30
    data = f"a: &x {deep}\nb: [[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]]]]]]]]]]]]]]]]]]]\n".encode()
    issue = _error(data).issue
    assert issue.expected == "nesting at most 50 levels deep"


def test_recursive_alias_is_refused_without_hanging():
    issue = _error(b"a: &a [*a]\n").issue
    assert "nest" in issue.message


def test_python_object_tag_is_refused_with_line_and_column():
    issue = _error(b"a: 1\nb: !!python/object/apply:os.system [echo pwned]\n").issue
    assert issue.expected == "plain YAML without custom tags"
    assert issue.found == "the tag tag:yaml.org,2002:python/object/apply:os.system at line 2, column 4"
    assert "line 2, column 4" in issue.message
    assert issue.message.startswith("x.yaml, document 0: unsupported YAML tag: could not determine a constructor")


def test_unknown_local_tag_is_refused():
    issue = _error(b"a: !vault secret\n").issue
    assert "!vault" in issue.message


def test_invalid_utf8_is_refused_with_offset():
    issue = _error(b"name: caf\xe9\n").issue
    assert issue.expected == "UTF-8 text"
    assert issue.found == "byte 0xe9 at offset 9"
    assert issue.message == "x.yaml: the file is not valid UTF-8 (byte 0xe9 at offset 9)"


def test_utf8_byte_order_mark_is_accepted():
    assert load_documents("\ufeffa: é\n".encode(), file="x.yaml") == [{"a": "é"}]


def test_tabs_used_for_indentation_are_refused_as_malformed():
    issue = _error(b"a:\n\t- b\n").issue
    assert issue.expected == "well-formed YAML"
    assert "line 2, column 1" in issue.message
    assert issue.message.startswith("x.yaml, document 0: invalid YAML: found character that cannot start any token")


def test_malformed_yaml_in_a_later_document_names_that_document():
    issue = _error(b"a: 1\n---\nb: 2\n---\nc: [unclosed\n").issue
    assert issue.document == 2


def test_duplicate_keys_are_refused():
    issue = _error(b"metadata:\n  name: a\n  name: b\n").issue
    assert "found duplicate key 'name'" in issue.message
    assert "line 3" in issue.message


def test_merge_keys_may_override_merged_values():
    docs = load_documents(b"base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", file="x.yaml")
    assert docs[0]["c"] == {"x": 1, "y": 3}  # type: ignore[index]


def test_the_number_of_documents_is_not_limited():
    data = b"---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: u}\nspec: {memberOf: [t]}\n" * 5000
    docs = load_documents(data, file="org.yaml")
    assert len(docs) == 5000


def test_a_document_limit_can_still_be_set():
    issue = _error(b"a: 1\n---\n" * 20, Limits(max_documents=10)).issue
    assert issue.expected == "at most 10 YAML documents"
    assert issue.message == "x.yaml: the file has more than 10 YAML documents"


def test_exactly_max_documents_are_accepted():
    data = b"---\na: 1\n" * 10
    assert len(load_documents(data, file="x.yaml", limits=Limits(max_documents=10))) == 10


def test_non_bytes_input_is_an_issue_not_a_crash():
    issue = _error("a: 1").issue  # type: ignore[arg-type]
    assert issue.expected == "bytes"


def test_nan_and_infinity_are_kept_as_text():
    assert to_plain({"a": float("nan"), "b": float("inf")}, file="x") == {"a": "nan", "b": "inf"}


def test_count_nodes_counts_keys_scalars_lists_and_mappings_like_the_budget():
    value = {"a": [1, 2], "b": {"c": None}}
    assert count_nodes(value) == 9
    to_plain(value, file="x", limits=Limits(max_nodes=9))
    with pytest.raises(YamlError):
        to_plain(value, file="x", limits=Limits(max_nodes=8))


def test_to_plain_applies_the_node_budget():
    with pytest.raises(YamlError) as info:
        to_plain(list(range(100)), file="x.json", limits=Limits(max_nodes=50))
    assert info.value.issue.expected == "at most 50 values after expanding aliases"


def test_unsupported_python_values_are_refused():
    with pytest.raises(YamlError) as info:
        to_plain({"a": object()}, file="x")
    assert info.value.issue.expected == "text, numbers, booleans, lists and mappings"


def test_binary_values_are_refused():
    issue = _error(b"a: !!binary aGVsbG8=\n").issue
    assert issue.found == "bytes"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01", b"a: [", b"{{{{", b"- - - -", b"&a", b"*unknown", b"%YAML 9.9\n---\na: 1", b"? [a]\n: b\n"],
)
def test_garbage_only_ever_raises_yaml_error(data):
    file = None
    try:
        load_documents(data, file="x.yaml")
    except YamlError as exc:
        file = exc.issue.file
    assert file in (None, "x.yaml")
