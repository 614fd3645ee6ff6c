"""Entity refs as the on-call engine needs them: ``kind:namespace/name``, lower-case.

Deliberately tiny and local so the engine stays independent of ``catalog.descriptors``; it
accepts the same shorthand the catalog does (``alice``, ``user:alice``, ``user:default/alice``).
"""

from __future__ import annotations

import re

_REF = re.compile(
    r"^(?:(?P<kind>[a-z][a-z0-9-]*):)?(?:(?P<namespace>[a-z0-9][a-z0-9._-]*)/)?(?P<name>[a-z0-9][a-z0-9._-]*)$"
)


def normalize_ref(value: str, *, default_kind: str | None, default_namespace: str = "default") -> str:
    """``value`` as ``kind:namespace/name`` in lower case.

    Raises ValueError when the ref is malformed, or has no kind and ``default_kind`` is None.
    """
    match = _REF.match(value.strip().lower())
    if match is None:
        raise ValueError(f"not a valid entity ref: {value!r}")
    kind = match["kind"] or default_kind
    if kind is None:
        raise ValueError(f"the ref {value!r} needs a kind, like user:{value}")
    namespace = match["namespace"] or default_namespace.lower()
    return f"{kind}:{namespace}/{match['name']}"


def ref_kind(ref: str) -> str:
    """The kind of a normalised ref (the part before the colon)."""
    return ref.split(":", 1)[0]


def display_name(ref: str) -> str:
    """A human name guessed from a ref: ``user:default/jane.doe`` -> ``Jane Doe``."""
    name = ref.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    words = [word for word in re.split(r"[._\-]+", name) if word]
    return " ".join(word[:1].upper() + word[1:] for word in words) or ref
