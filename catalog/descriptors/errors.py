"""Issues: every problem found in a descriptor file, phrased for the person who owns the file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

FOUND_MAX_CHARS: Final = 80


class _Missing:
    """Marks a value that is absent, which must read differently from an explicit null."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def truncate(text: str, limit: int = FOUND_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: object, *, limit: int = FOUND_MAX_CHARS) -> str:
    """Render a value for the `found` part of a message: JSON-like, truncated, never raising."""
    if value is MISSING:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return truncate(text, limit)


def join_path(base: str, key: str | int) -> str:
    """Append a key or index to a dotted field path (`metadata.links[0].url`)."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{base}.{key}" if base else key
    # Keys such as annotation names hold dots and slashes; quoting keeps the path unambiguous.
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in one document of one file.

    `document` is the 0-based index of the YAML document in the file (None when the whole file
    is at fault); `path` is the dotted field path inside the entity ("" for the whole document);
    `message` is a complete sentence built from the other fields.
    """

    file: str
    document: int | None
    entity_ref: str | None
    path: str
    expected: str
    found: str
    detail: str | None = None
    message: str = field(init=False, default="")

    def __post_init__(self) -> None:
        where = self.file
        if self.document is not None:
            where += f", document {self.document}"
        if self.entity_ref:
            where += f" ({self.entity_ref})"
        what = self.detail if self.detail else f"expected {self.expected}, found {self.found}"
        text = f"{where}: {self.path}: {what}" if self.path else f"{where}: {what}"
        # Frozen for callers; the message is derived once here.
        object.__setattr__(self, "message", text)

    def __str__(self) -> str:
        return self.message


def make_issue(
    *,
    file: str,
    document: int | None,
    entity_ref: str | None,
    path: str,
    expected: str,
    found: object = MISSING,
    detail: str | None = None,
) -> Issue:
    """Build an Issue from a raw found value, rendering and truncating it."""
    return Issue(
        file=file,
        document=document,
        entity_ref=entity_ref,
        path=path,
        expected=expected,
        found=describe(found),
        detail=detail,
    )
