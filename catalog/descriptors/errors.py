"""Issues: every problem found in a descriptor file, phrased for the person who owns the file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
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


class IssueCode(StrEnum):
    """What kind of problem an issue is, for code that must tell them apart (never match on the message).

    Parsing a descriptor file yields the first four; reading a location and writing what it read the others
    (built in `catalog.locations.errors`). Stored with every error of a location or an entity.
    """

    PARSE = "parse"  # the file as a whole: not YAML, not UTF-8, over a limit
    VALIDATION = "validation"  # one document breaks the rules of its kind
    PLACEHOLDER = "placeholder"  # a $text/$json/$yaml target could not be read
    DUPLICATE = "duplicate"  # one entity declared twice
    READ = "read"  # a target or file that may not or could not be read
    FETCH = "fetch"  # a URL the fetch guard refused or could not fetch
    NESTING = "nesting"  # a nested Location target of a type, or deeper, than allowed
    FILE_LIMIT = "file-limit"  # more files than PAVED_CATALOG_MAX_FILES
    CONFLICT = "conflict"  # an entity another location already manages
    UNTRUSTED_KIND = "untrusted-kind"  # a kind only trusted locations may declare
    REFRESH_FAILED = "refresh-failed"  # the refresh could not run at all


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in one document of one file.

    `document` is the 0-based index of the YAML document in the file (None when the whole file
    is at fault); `path` is the dotted field path inside the entity ("" for the whole document);
    `message` is a complete sentence built from the other fields; `code` says what kind of problem it is.
    """

    file: str
    document: int | None
    entity_ref: str | None
    path: str
    expected: str
    found: str
    detail: str | None = None
    code: IssueCode = IssueCode.VALIDATION
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
    code: IssueCode = IssueCode.VALIDATION,
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
        code=code,
    )
