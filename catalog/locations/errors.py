"""Location errors: the one shape every error of a location or an entity is recorded in, and the one place it is built.

Stored in `Location.errors` and `Entity.errors`, returned by a refresh and a dry run, shown by the location page and
the command line: `{code, file, document, entityRef, path, message}`. `code` (an `IssueCode`) is what code looks at;
`message` is for people. Rows recorded before errors had a code have none: `error_code` reads them as "".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from catalog.descriptors.errors import Issue, IssueCode

__all__ = [
    "IssueCode",
    "LocationError",
    "conflict",
    "declared_twice",
    "entity_refused",
    "error_code",
    "from_issue",
    "read_issue",
    "refresh_failed",
    "untrusted_kind",
    "with_code",
]


class LocationError(TypedDict):
    """One error of a location's last refresh (or of an entity it manages), as stored and served."""

    code: str
    file: str
    document: int | None
    entityRef: str | None
    path: str
    message: str


def _error(
    code: IssueCode,
    message: str,
    *,
    file: str = "",
    document: int | None = None,
    entity_ref: str | None = None,
    path: str = "",
) -> LocationError:
    return {
        "code": code.value,
        "file": file,
        "document": document,
        "entityRef": entity_ref,
        "path": path,
        "message": message,
    }


def from_issue(issue: Issue) -> LocationError:
    """A descriptor issue (parsing, validation, reading) as recorded on the location and the entity."""
    return _error(
        issue.code,
        issue.message,
        file=issue.file,
        document=issue.document,
        entity_ref=issue.entity_ref,
        path=issue.path,
    )


def read_issue(*, file: str, target: str, reason: str, code: IssueCode = IssueCode.READ) -> Issue:
    """A target (or one of its files) that may not or could not be read. `file` is where the target was named: the
    file that nests it, or the target itself for the location's own."""
    if reason.startswith(f"{target}: "):
        reason = reason[len(target) + 2 :]
    return Issue(
        file=file,
        document=None,
        entity_ref=None,
        path="",
        expected="a readable location target",
        found=target,
        detail=reason if file.endswith(target) else f"{target}: {reason}",
        code=code,
    )


def conflict(*, ref: str, file: str, other: str) -> LocationError:
    """An entity that another location (`other`, its key) already manages: the first location keeps it."""
    return _error(
        IssueCode.CONFLICT,
        f"Conflict: {ref} is already managed by location {other}; this location's copy was not applied "
        "(unregister the other location or remove the duplicate)",
        file=file,
        entity_ref=ref,
    )


def declared_twice(*, ref: str, file: str, first: str) -> LocationError:
    """An entity that two files of one location declare: the first file read keeps it."""
    return _error(
        IssueCode.DUPLICATE,
        f"{ref} is declared twice in this location (kept the first, in {first})",
        file=file,
        entity_ref=ref,
    )


def entity_refused(*, ref: str, file: str, document: int | None, path: str, message: str) -> LocationError:
    """A valid entity that a check registered for its kind (`catalog.extensions`) refuses: recorded and kept out like an
    invalid one, with the message phrased as the validation errors are."""
    issue = Issue(file=file, document=document, entity_ref=ref, path=path, expected=message, found="", detail=message)
    return from_issue(issue)


def untrusted_kind(*, ref: str, kind: str, file: str, document: int | None = None) -> LocationError:
    """An entity of a kind only trusted locations may declare, read from one that is not trusted."""
    return _error(
        IssueCode.UNTRUSTED_KIND,
        f"{ref}: kind {kind} may only come from a trusted location; mark this location trusted or list it in "
        "PAVED_CATALOG_TRUSTED_LOCATIONS",
        file=file,
        document=document,
        entity_ref=ref,
        path="kind",
    )


def refresh_failed(*, location_key: str, error: str) -> LocationError:
    """A refresh that could not run at all (the task gave up): what it stood for keeps its entities."""
    return _error(IssueCode.REFRESH_FAILED, f"Refresh failed: {error}", file=location_key)


def error_code(error: Mapping[str, Any]) -> str:
    """The code of a stored error; "" for one recorded before errors had codes."""
    return str(error.get("code") or "")


def with_code(errors: Iterable[Mapping[str, Any]], code: IssueCode) -> list[Mapping[str, Any]]:
    """The stored errors of one kind (the location page flags conflicts with it)."""
    return [error for error in errors if error_code(error) == code]
