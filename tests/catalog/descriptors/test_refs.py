from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.descriptors.refs import (
    EntityRef,
    RefError,
    entity_ref,
    parse_ref,
    ref_label,
    ref_parts,
    stringify_ref,
)
from catalog.descriptors.validate import is_valid_entity_name


def test_parses_full_partial_and_bare_refs_with_defaults():
    assert parse_ref("a:b/c") == EntityRef("a", "b", "c")
    assert parse_ref("b/c", default_kind="x", default_namespace="y") == EntityRef("x", "b", "c")
    assert parse_ref("a:c", default_kind="x", default_namespace="y") == EntityRef("a", "y", "c")
    assert parse_ref("c", default_kind="x", default_namespace="y") == EntityRef("x", "y", "c")
    assert parse_ref("c", default_kind="Group") == EntityRef("Group", "default", "c")


def test_parses_compound_refs_with_defaults():
    assert parse_ref({"kind": "a", "namespace": "b", "name": "c"}) == EntityRef("a", "b", "c")
    assert parse_ref({"namespace": "b", "name": "c"}, default_kind="x") == EntityRef("x", "b", "c")
    assert parse_ref({"kind": "a", "name": "c"}, default_namespace="y") == EntityRef("a", "y", "c")


@pytest.mark.parametrize("bad", ["a:b:c", "a/b/c", "a/b:c", "a:b/c/d", "a:b/c:d"])
def test_rejects_more_than_one_colon_or_slash(bad):
    with pytest.raises(RefError, match=re.escape(f'Entity reference "{bad}" was not on the form')):
        parse_ref(bad, default_kind="x")


@pytest.mark.parametrize("bad", [":b/c", "a:/c", "a:b/", "a:/", ":b/", ":/c", ":/", "/c", "b/", ":c", "a:"])
def test_rejects_empty_parts_in_strings(bad):
    with pytest.raises(RefError):
        parse_ref(bad, default_kind="x")


def test_rejects_empty_input():
    with pytest.raises(RefError, match="Entity reference must not be empty"):
        parse_ref("", default_kind="x")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "", "namespace": "b", "name": "c"}, "kinds must not be empty"),
        ({"kind": "a", "namespace": "", "name": "c"}, "namespaces must not be empty"),
        ({"kind": "a", "namespace": "b", "name": ""}, "must contain a name"),
        ({"kind": "a", "namespace": "b"}, "must contain a name"),
        ({"kind": 7, "name": "c"}, "has a kind that is not a string"),
    ],
)
def test_rejects_empty_parts_in_compounds(bad, message):
    with pytest.raises(RefError, match=message):
        parse_ref(bad, default_kind="x")


def test_rejects_non_string_non_mapping():
    with pytest.raises(RefError, match="neither a string nor a mapping"):
        parse_ref(7, default_kind="x")  # type: ignore[arg-type]


def test_missing_kind_without_default_is_backstages_error():
    with pytest.raises(RefError) as info:
        parse_ref("b/c")
    assert str(info.value) == (
        'Entity reference "b/c" had missing or empty kind (e.g. did not start with "component:" or similar)'
    )


def test_refs_compare_and_hash_case_insensitively_and_print_lower_case():
    ref = EntityRef("Group", "Default", "Team-A")
    assert ref == EntityRef("group", "default", "team-a")
    assert hash(ref) == hash(EntityRef("group", "default", "team-a"))
    assert str(ref) == "group:default/team-a"
    assert ref.kind == "Group"
    assert ref != "group:default/team-a"


def test_stringify_ref_of_entity_compound_and_ref():
    assert stringify_ref({"kind": "Component", "metadata": {"name": "X"}}) == "component:default/x"
    assert stringify_ref({"kind": "A", "namespace": "B", "name": "C"}) == "a:b/c"
    assert stringify_ref(EntityRef("A", "b", "C")) == "a:b/c"
    with pytest.raises(RefError):
        stringify_ref({"metadata": {"name": "x"}})


def test_entity_ref_needs_kind_and_name():
    assert entity_ref({"kind": "User", "metadata": {"name": "u", "namespace": "ns"}}) == EntityRef("user", "ns", "u")
    assert entity_ref({"kind": "User", "metadata": {}}) is None
    assert entity_ref({"metadata": {"name": "u"}}) is None


_part = st.from_regex(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,20}", fullmatch=True)


@given(kind=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True), namespace=_part, name=_part)
def test_parse_ref_round_trips_its_string_form(kind, namespace, name):
    ref = EntityRef(kind, namespace, name)
    assert parse_ref(str(ref)) == ref
    assert str(parse_ref(str(ref))) == str(ref)


@given(kind=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True), namespace=_part, name=_part)
def test_ref_parts_reads_what_parse_ref_reads_lower_cased(kind, namespace, name):
    for text in (f"{kind}:{namespace}/{name}", f"{kind}:{name}"):
        parts = ref_parts(text)
        assert parts == parse_ref(text)
        assert parts.key() == (parts.kind, parts.namespace, parts.name)


def test_ref_parts_tolerates_refs_parse_ref_refuses():
    assert ref_parts(" Group:Team-A ").key() == ("group", "default", "team-a")
    assert ref_parts("other/team-a").key() == ("", "other", "team-a")
    assert ref_parts("team-a").key() == ("", "default", "team-a")
    assert ref_parts("a:b:c").key() == ("", "default", "a:b:c")
    assert ref_parts("").key() == ("", "default", "")


@pytest.mark.parametrize(
    ("text", "default_kind", "label"),
    [
        ("group:default/team-a", "", "team-a"),
        ("Group:Other/Team-A", "", "other/team-a"),
        ("user:default/alice", "", "alice"),
        ("user:default/alice", "group", "user:alice"),
        ("group:default/team-a", "Group", "team-a"),
        ("user:ops/bob", "group", "user:ops/bob"),
        ("not a ref", "", "not a ref"),
    ],
)
def test_ref_label_leaves_out_the_default_namespace_and_kind(text, default_kind, label):
    assert ref_label(text, default_kind=default_kind) == label


def _reference_name_check(value: str) -> bool:
    """Backstage's name rule restated without a regex: 1-63 chars, alphanumeric at both ends,
    only [-_.] between."""
    if not 1 <= len(value) <= 63:
        return False
    alnum = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    if value[0] not in alnum or value[-1] not in alnum:
        return False
    return all(ch in alnum or ch in "-_." for ch in value)


@given(st.text(alphabet=st.sampled_from("aZ09-_.: /\n\té"), max_size=70))
def test_name_regex_agrees_with_a_character_by_character_check(value):
    assert is_valid_entity_name(value) == _reference_name_check(value)
