"""The one-pass loader for plain files (`yamlsafe._fast_documents`) against the general path it stands in for: same
values (types included) for every file it takes, and every other file handed to the general path, which decides."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.descriptors import yamlsafe
from catalog.descriptors.yamlsafe import DEFAULT_LIMITS, Limits, YamlError, load


def _general(data: bytes, limits: Limits = DEFAULT_LIMITS) -> object:
    """What the general path alone makes of `data`: its documents, or the issue it raises."""
    original = yamlsafe._fast_documents
    yamlsafe._fast_documents = lambda text, limits: None  # type: ignore[assignment]
    try:
        return load(data, file="x.yaml", limits=limits).documents
    except YamlError as exc:
        return exc.issue
    finally:
        yamlsafe._fast_documents = original  # type: ignore[assignment]


def _loaded(data: bytes, limits: Limits = DEFAULT_LIMITS) -> object:
    try:
        return load(data, file="x.yaml", limits=limits).documents
    except YamlError as exc:
        return exc.issue


def _takes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> bool:
    return yamlsafe._fast_documents(data.decode("utf-8-sig"), limits) is not None


def _same(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    general, loaded = _general(data, limits), _loaded(data, limits)
    assert loaded == general
    assert repr(loaded) == repr(general)  # 1 and 1.0 and True are equal in Python, not in JSON


# Scalars written plain where YAML 1.1 and 1.2 disagree, or that look like something else.
_TRICKY = [
    "010",
    "0o17",
    "0x1F",
    "0b101",
    "+12",
    "-0",
    "1_000",
    "1e3",
    "1.5e-3",
    ".5",
    "5.",
    "1e999",
    "-1e999",
    ".inf",
    ".nan",
    "true",
    "True",
    "TRUE",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "~",
    "null",
    "Null",
    "",
    "2021-11-10",
    "2001-12-14t21:59:43.10-05:00",
    "12:30:45",
    "<<",
    "=",
    "$text",
    "a: b",
    "- x",
    "#",
    "'q'",
    '"dq"',
    "é",
    "\t",
    "multi\nline",
    " lead",
    "trail ",
]
_scalars = st.one_of(
    st.sampled_from(_TRICKY),
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
_keys = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=8), st.integers(-5, 5), st.booleans(), st.none())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents=st.lists(_values, min_size=1, max_size=3), flow=st.sampled_from([None, True, False]))
def test_plain_files_load_as_the_general_path_loads_them(documents, flow):
    data = yaml.safe_dump_all(documents, default_flow_style=flow, allow_unicode=True).encode()
    _same(data)


@pytest.mark.parametrize(
    "text",
    [
        "a: 010\nb: 0x1F\nc: 1e999\nd: -1e999\ne: yes\nf: ~\ng:\nh: 2021-11-10\ni: '010'\nj: |\n  block\n",
        "010: a\ntrue: b\n~: c\n1.5: d\n1e999: e\n'x': f\n",
        "---\n---\na: 1\n---\n...\n",
        "",
        "- [1, [2, [3, {a: [4]}]]]\n",
        '"\\x24text": ./a.txt\n',
    ],
)
def test_files_the_fast_path_takes_load_the_same(text):
    data = text.encode()
    assert _takes(data)
    _same(data)


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("base: &b {x: 1}\ncopy: *b\n", DEFAULT_LIMITS),  # anchors and aliases
        ("a: &x 1\n", DEFAULT_LIMITS),
        ("base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n", DEFAULT_LIMITS),  # merge key
        ("a: 1\na: 2\n", DEFAULT_LIMITS),  # duplicate key
        ("1: a\n'1': b\n", DEFAULT_LIMITS),  # not duplicates (different tags), the same text
        ("a: !!str 1\n", DEFAULT_LIMITS),  # explicit tags
        ("a: !!python/object:os.system x\n", DEFAULT_LIMITS),
        ("a: !local x\n", DEFAULT_LIMITS),
        ("a: ! 12\n", DEFAULT_LIMITS),
        ("? [a, b]\n: c\n", DEFAULT_LIMITS),  # a key that is a list
        ("? {a: 1}\n: c\n", DEFAULT_LIMITS),
        ("a: 1\n---\nb: [\n", DEFAULT_LIMITS),  # malformed later document
        ("a:\n\t- b\n", DEFAULT_LIMITS),
        ("a: " + "[" * 60 + "]" * 60 + "\n", DEFAULT_LIMITS),  # too deep
        ("a: " + "[" * 50 + "]" * 50 + "\n", DEFAULT_LIMITS),  # exactly as deep as allowed: taken
        ("---\n[1, 2, 3, 4, 5]\n" * 10, Limits(max_nodes=40)),  # too many nodes
        ("---\na: 1\n" * 3, Limits(max_documents=2)),  # too many documents
        ("---\na: 1\n" * 2, Limits(max_documents=2)),
        ("%YAML 9.9\n---\na: 1\n", DEFAULT_LIMITS),
    ],
)
def test_anything_else_is_left_to_the_general_path(text, limits):
    _same(text.encode(), limits)


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1}\ncopy: *b\n",
        "base: &b {x: 1}\nmerged:\n  <<: *b\n",
        "a: 1\na: 2\n",
        "a: !!str 1\n",
        "? [a]\n: c\n",
        "a: 1\n---\nb: [\n",
    ],
)
def test_the_fast_path_declines_what_it_does_not_build(text):
    assert not _takes(text.encode())


def test_the_fast_path_stops_at_the_limits():
    assert not _takes(b"---\n[1, 2, 3, 4, 5]\n" * 10, Limits(max_nodes=40))
    assert _takes(b"---\n[1, 2, 3, 4, 5]\n" * 6, Limits(max_nodes=36))
    assert not _takes(("a: " + "[" * 51 + "]" * 51 + "\n").encode())
    assert _takes(("a: " + "[" * 49 + "]" * 49 + "\n").encode())
    assert not _takes(b"---\na: 1\n" * 3, Limits(max_documents=2))


@pytest.mark.parametrize(
    ("text", "dollar"),
    [
        ("a: 1\nb: {c: $text}\n", False),  # a value, not a key
        ("spec:\n  definition:\n    $text: ./api.yaml\n", True),
        ('spec:\n  "\\x24json": ./x.json\n', True),  # the key spelled with an escape
        ("- {$yaml: ./x.yaml}\n", True),
        ("$ref: x\n", True),  # any key starting with $: the placeholder rules decide the rest
    ],
)
def test_files_say_whether_any_key_starts_with_a_dollar(text, dollar):
    assert load(text.encode(), file="x.yaml").dollar_keys is dollar


def test_the_general_path_never_claims_a_file_has_no_dollar_keys():
    assert load(b"base: &b {x: 1}\ncopy: *b\n", file="x.yaml").dollar_keys is True
