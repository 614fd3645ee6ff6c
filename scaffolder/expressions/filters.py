"""Backstage's template filters as pure functions: parseRepoUrl, projectSlug, parseEntityRef and pick.

They follow Backstage's scaffolder: a repository URL is `host?owner=…&repo=…` (with `organization`, `workspace`
and `project` for the hosts that use them), an entity reference is `[<kind>:][<namespace>/]<name>` with the same
defaults and errors as Backstage's parseEntityRef, and pick takes a property by a dotted path like lodash's get.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from scaffolder.expressions.errors import FilterError

DEFAULT_NAMESPACE: Final = "default"

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")
_REPO_PARAMETERS: Final = ("owner", "repo", "organization", "workspace", "project")


@dataclass(frozen=True, slots=True)
class RepoSpec:
    """Where a repository is to be published, as a RepoUrlPicker writes it."""

    host: str
    repo: str | None = None
    owner: str | None = None
    organization: str | None = None
    workspace: str | None = None
    project: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The parts that are present, as Backstage's filter returns them (absent parts are left out)."""
        parts = {
            "host": self.host,
            "owner": self.owner,
            "repo": self.repo,
            "organization": self.organization,
            "workspace": self.workspace,
            "project": self.project,
        }
        return {key: value for key, value in parts.items() if value is not None}


def parse_repo_url(repo_url: object) -> RepoSpec:
    """Parse `host?owner=o&repo=r` (the embedded git host is `local?owner=payments&repo=checkout`).

    The host may carry a port and is lowercased like a browser's URL parser does; a query parameter given twice
    counts with its first value; an empty parameter counts as missing. `repo` is required unless `project` names
    the repository (GitLab's project id). The values are returned as given: confining them to safe paths and names
    is the publisher's job.
    """
    if not isinstance(repo_url, str) or not repo_url.strip():
        raise FilterError(f"Invalid repo URL, expected a text like host?owner=o&repo=r, got {_textual(repo_url)}")
    try:
        parsed = urlsplit(f"https://{repo_url.strip()}")
        host = parsed.hostname or ""
        port = parsed.port
    except ValueError as error:
        raise FilterError(f"Invalid repo URL {_textual(repo_url)}: {error}") from None
    if port is not None:
        host = f"{host}:{port}"
    if not _HOST.fullmatch(host):
        raise FilterError(f"Invalid repo URL {_textual(repo_url)}: it does not start with a host name")
    query = parse_qs(parsed.query, keep_blank_values=True)
    values = {name: (query.get(name) or [""])[0] or None for name in _REPO_PARAMETERS}
    if values["repo"] is None and values["project"] is None:
        raise FilterError(f"Invalid repo URL {_textual(repo_url)}, missing repo")
    return RepoSpec(host=host, **values)


def project_slug(repo_url: object) -> str:
    """`owner/repo` of a repository URL, as Backstage's projectSlug filter."""
    spec = parse_repo_url(repo_url)
    if spec.owner is None or spec.repo is None:
        raise FilterError(f"Invalid repo URL {_textual(repo_url)}, projectSlug needs both owner and repo")
    return f"{spec.owner}/{spec.repo}"


def parse_entity_ref(
    ref: object,
    *,
    default_kind: str | None = None,
    default_namespace: str | None = None,
) -> dict[str, str]:
    """`{kind, namespace, name}` of a reference string or object, with Backstage's defaults and messages.

    The namespace defaults to `default`; the kind has no default unless one is given, and a reference without
    a kind then fails. Case is kept as written, as Backstage does.
    """
    if not ref:
        raise FilterError("Entity reference must not be empty")
    namespace_default = default_namespace or DEFAULT_NAMESPACE
    kind: object
    namespace: object
    name: object
    if isinstance(ref, str):
        kind, namespace, name = _split_ref(ref)
        kind = kind if kind is not None else default_kind
        namespace = namespace if namespace is not None else namespace_default
    elif isinstance(ref, Mapping):
        kind = ref.get("kind") or default_kind
        namespace = ref.get("namespace") or namespace_default
        name = ref.get("name")
    else:
        raise FilterError(f"Entity reference must be a text or an object, got {_textual(ref)}")
    if not kind or not isinstance(kind, str):
        raise FilterError(
            f"Entity reference {_textual(ref)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    if not namespace or not isinstance(namespace, str):
        raise FilterError(f"Entity reference {_textual(ref)} had missing or empty namespace")
    if not name or not isinstance(name, str):
        raise FilterError(f"Entity reference {_textual(ref)} had missing or empty name")
    return {"kind": kind, "namespace": namespace, "name": name}


def _split_ref(ref: str) -> tuple[str | None, str | None, str]:
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        # a colon after the slash belongs to the name, not to a kind
        colon = -1
    kind = None if colon == -1 else ref[:colon]
    namespace = None if slash == -1 else ref[colon + 1 : slash]
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise FilterError(f'Entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>')
    return kind, namespace, name


def pick(value: object, path: object) -> Any:
    """The property at a dotted path (`metadata.name`, `items.0`) of an object, or None when it is missing."""
    if isinstance(path, int) and not isinstance(path, bool):
        keys: list[str | int] = [path]
    elif isinstance(path, str) and path:
        keys = list(path.split("."))
    else:
        raise FilterError(f"pick needs a property name, got {_textual(path)}")
    current: object = value
    for key in keys:
        if isinstance(current, Mapping):
            current = current.get(key)
        elif isinstance(current, Sequence) and not isinstance(current, str):
            index = key if isinstance(key, int) else int(key) if key.isdigit() else None
            current = current[index] if index is not None and index < len(current) else None
        else:
            return None
    return current


def _textual(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 200 else f"{text[:200]}…"
