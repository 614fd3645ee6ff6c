from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.oncall.engine import display_name, normalize_ref


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice", "user:default/alice"),
        ("user:alice", "user:default/alice"),
        ("user:default/alice", "user:default/alice"),
        ("User:Team-A/Alice.Smith", "user:team-a/alice.smith"),
        ("  bob ", "user:default/bob"),
        ("schedule:payments-primary", "schedule:default/payments-primary"),
    ],
)
def test_normalize_ref_accepts_shorthand(value, expected):
    assert normalize_ref(value, default_kind="user") == expected


def test_normalize_ref_uses_the_default_namespace():
    assert normalize_ref("alice", default_kind="user", default_namespace="Payments") == "user:payments/alice"


@pytest.mark.parametrize("value", ["", "user:", "a b", "user:ns/", "user:a/b/c", "-alice"])
def test_normalize_ref_rejects_malformed_refs(value):
    with pytest.raises(ValueError, match="not a valid entity ref"):
        normalize_ref(value, default_kind="user")


def test_normalize_ref_without_kind_or_default_kind_is_refused():
    with pytest.raises(ValueError, match="needs a kind"):
        normalize_ref("alice", default_kind=None)


names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)


@given(st.sampled_from(["user", "schedule"]), names, names)
def test_normalize_ref_round_trips(kind, namespace, name):
    ref = f"{kind}:{namespace}/{name}"
    assert normalize_ref(ref, default_kind=None) == ref
    assert normalize_ref(ref.upper(), default_kind=None) == ref


def test_display_name_guesses_a_human_name():
    assert display_name("user:default/alice") == "Alice"
    assert display_name("user:default/jane.doe") == "Jane Doe"
    assert display_name("schedule:default/payments-primary") == "Payments Primary"
