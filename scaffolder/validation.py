"""What the scaffolder refuses at registration: a Template the catalog would accept but a run must not execute.

Registered as the catalog's entity check for Template (`catalog.extensions`, in `ScaffolderConfig.ready()`), so a
refresh and the dry run of a registration both refuse, with a message naming the field or the file:
- a step whose `action` is not a registered action;
- a step `url` (fetch:template, fetch:plain) or `targetPath` that is absolute, a URL, or leads out with `..`;
- in the template's files (the folder beside `template.yaml`, read from the same source a run exports: the file
  location's folder, or the local git repository's tree at the registered ref): symbolic links, git submodules,
  special files, names whose literal path leads out of the folder, a skeleton folder a step names that is not
  there, and a `copier.yml`/`copier.yaml` at the template root or a skeleton root declaring `_tasks`,
  `_jinja_extensions`, `_migrations` or `_external_data` (Paved never runs a template's own Copier code).

Values holding an expression (`${{ parameters.flavour }}`) cannot be checked here; the run checks them when they are
rendered. Reading is bounded: at most `MAX_ENTRIES` files and folders, `MAX_CONFIG_BYTES` of a Copier file, and git
runs through `catalog.locations.git.run_git` (argument lists, hooks off, the catalog's git timeout).
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from catalog.descriptors import Limits, YamlError, load_documents
from catalog.extensions import EntityProblem
from catalog.locations.base import LocationReadError
from catalog.locations.git import local_git_dir, parse_target, run_git
from scaffolder.actions import action_list
from scaffolder.actions.base import DEFAULT_MAX_FILES
from scaffolder.sources import GIT_PREFIX, template_source

FETCH_ACTIONS: Final = ("fetch:template", "fetch:plain")
COPIER_FILES: Final = ("copier.yml", "copier.yaml")
FORBIDDEN_COPIER_KEYS: Final = ("_tasks", "_jinja_extensions", "_migrations", "_external_data")
MAX_ENTRIES: Final = DEFAULT_MAX_FILES
MAX_CONFIG_BYTES: Final = 256 * 1024
_CONFIG_LIMITS: Final = Limits(max_bytes=MAX_CONFIG_BYTES, max_documents=1, max_nodes=100_000)
_EXPRESSION: Final = "${{"
_MANAGED_BY_LOCATION: Final = "backstage.io/managed-by-location"

# Kinds of tree entries, as git's modes and lstat tell them apart.
FILE: Final = "file"
FOLDER: Final = "folder"
LINK: Final = "link"
SUBMODULE: Final = "submodule"
SPECIAL: Final = "special"


class _Unreadable(Exception):
    """The template's files could not be listed or read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str  # POSIX, relative to the template folder
    kind: str
    size: int


@dataclass(frozen=True, slots=True)
class _FetchStep:
    index: int
    folder: str | None  # the literal skeleton folder, normalised ("" for the template folder); None: an expression


@dataclass
class _Tree:
    """The template's files: every entry, and a way to read one file's bytes."""

    where: str
    entries: dict[str, _Entry]
    read: Callable[[str], bytes]


def template_check(entity: Mapping[str, Any], source: str) -> list[EntityProblem]:
    """Every reason to refuse this Template read from `source` (`<type>:<target>`); empty when a run may use it."""
    spec = entity.get("spec")
    steps = spec.get("steps") if isinstance(spec, Mapping) else None
    if not isinstance(steps, list):
        return []
    problems: list[EntityProblem] = []
    fetch_steps: list[_FetchStep] = []
    known = sorted(action.id for action in action_list())
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        base = f"spec.steps[{index}]"
        action = step.get("action")
        if isinstance(action, str) and action not in known:
            problems.append(EntityProblem(f"{base}.action", f'unknown action "{action}"; known: {", ".join(known)}'))
        inputs = step.get("input")
        inputs = inputs if isinstance(inputs, Mapping) else {}
        target_path = inputs.get("targetPath")
        if isinstance(target_path, str):
            problem = _relative_path_problem(target_path, what="the run's workspace", example="./service")
            if problem:
                problems.append(EntityProblem(f"{base}.input.targetPath", problem))
        if action not in FETCH_ACTIONS:
            continue
        url = inputs.get("url", "./")
        if not isinstance(url, str):
            continue  # the action's input schema says so when the run starts
        if _EXPRESSION in url:
            fetch_steps.append(_FetchStep(index, None))
            continue
        problem = _url_problem(url)
        if problem:
            problems.append(EntityProblem(f"{base}.input.url", problem))
            continue
        fetch_steps.append(_FetchStep(index, _normalised(url)))
    return problems + _file_problems(source, fetch_steps)


# --- step inputs ------------------------------------------------------------------------------------------------


def _relative_path_problem(value: str, *, what: str, example: str) -> str | None:
    if _EXPRESSION in value:
        return None
    if "\x00" in value:
        return f"{_quoted(value)} holds a NUL character; it must be a path relative to {what}, such as {example}"
    if value.startswith(("/", "~", "\\")) or (len(value) > 1 and value[1] == ":" and value[0].isalpha()):
        return f"{_quoted(value)} is an absolute path; it must be a path relative to {what}, such as {example}"
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        return f"{_quoted(value)} leads out of {what} with '..'; it must be a path inside it, such as {example}"
    return None


def _url_problem(url: str) -> str | None:
    if "://" in url or ":" in url.split("/", 1)[0]:
        return (
            f"{_quoted(url)} is a URL; Paved reads skeletons only from the template's own folder, by a path relative"
            " to template.yaml such as ./skeleton"
        )
    return _relative_path_problem(url, what="the template's folder", example="./skeleton")


def _normalised(relative: str) -> str:
    parts = [part for part in PurePosixPath(relative or ".").parts if part != "."]
    return "/".join(parts)


def _quoted(value: str) -> str:
    shown = value if len(value) <= 80 else value[:79] + "…"
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0") + '"'


# --- the template's files ---------------------------------------------------------------------------------------


def _file_problems(source: str, fetch_steps: Sequence[_FetchStep]) -> list[EntityProblem]:
    files = template_source({"metadata": {"annotations": {_MANAGED_BY_LOCATION: source}}})
    try:
        tree = _tree(files, source)
    except _Unreadable as error:
        if not fetch_steps:
            return []  # nothing of the template's files is used
        return [
            EntityProblem(f"spec.steps[{step.index}].input.url", f"the template's files cannot be read: {error}")
            for step in fetch_steps
        ]
    if tree is None:
        return []
    problems: list[EntityProblem] = []
    for entry in tree.entries.values():
        problem = _entry_problem(entry)
        if problem:
            problems.append(EntityProblem(_step_path(entry.path, fetch_steps), f"{tree.where}: {problem}"))
    config_roots: dict[str, str] = {"": ""}  # folder -> field path the problem is reported at
    for step in fetch_steps:
        if step.folder is None:
            # Any folder could be the skeleton this step renders: every Copier file is checked.
            for entry in tree.entries.values():
                if posixpath.basename(entry.path) in COPIER_FILES:
                    config_roots.setdefault(posixpath.dirname(entry.path), f"spec.steps[{step.index}].input.url")
            continue
        found = tree.entries.get(step.folder)
        if step.folder and (found is None or found.kind != FOLDER):
            what = "no folder" if found is None else f"a {found.kind}, not a folder,"
            problems.append(
                EntityProblem(
                    f"spec.steps[{step.index}].input.url",
                    f"{tree.where}: the template has {what} at {_quoted(step.folder)} beside template.yaml",
                )
            )
            continue
        config_roots.setdefault(step.folder, f"spec.steps[{step.index}].input.url")
    for folder, field in sorted(config_roots.items()):
        problems.extend(EntityProblem(field, f"{tree.where}: {p}") for p in _copier_problems(tree, folder))
    return problems


def _step_path(path: str, fetch_steps: Sequence[_FetchStep]) -> str:
    """The url of the first step whose skeleton holds `path`; "" (the entity) for the rest of the template."""
    for step in fetch_steps:
        if step.folder is not None and (step.folder == "" or path == step.folder or path.startswith(step.folder + "/")):
            return f"spec.steps[{step.index}].input.url"
    return ""


def _entry_problem(entry: _Entry) -> str | None:
    parts = entry.path.split("/")
    if entry.path.startswith("/") or ".." in parts or "\x00" in entry.path:
        return f"the file name {_quoted(entry.path)} leads out of the template folder; templates may not hold one"
    if entry.kind == LINK:
        return f"{entry.path} is a symbolic link; templates may hold only regular files and folders"
    if entry.kind == SUBMODULE:
        return f"{entry.path} is a git submodule; templates may hold only regular files and folders"
    if entry.kind == SPECIAL:
        return f"{entry.path} is a special file (device, pipe or socket); templates may hold only files and folders"
    return None


def _copier_problems(tree: _Tree, folder: str) -> Iterator[str]:
    for name in COPIER_FILES:
        path = f"{folder}/{name}" if folder else name
        entry = tree.entries.get(path)
        if entry is None or entry.kind != FILE:
            continue
        if entry.size > MAX_CONFIG_BYTES:
            yield f"{path} is larger than {MAX_CONFIG_BYTES} bytes"
            continue
        try:
            documents = load_documents(tree.read(path), file=path, limits=_CONFIG_LIMITS)
        except YamlError as error:
            yield f"{path} is not valid YAML: {error.issue.detail or error.issue.message}"
            continue
        except _Unreadable as error:
            yield f"{path} cannot be read: {error}"
            continue
        config = documents[0] if documents else None
        declared = [key for key in FORBIDDEN_COPIER_KEYS if isinstance(config, dict) and key in config]
        if declared:
            yield (
                f"{path} declares {', '.join(declared)}; Paved never runs a template's own Copier tasks, Jinja"
                " extensions, migrations or external data"
            )


def _tree(files: str, source: str) -> _Tree | None:
    """The template's files from where a run reads them (`scaffolder.sources`); None when the template has none."""
    if files.startswith(GIT_PREFIX):
        return _git_tree(files)
    if files:
        return _folder_tree(Path(files))
    kind = source.partition(":")[0]
    if kind in ("file", "git"):
        return None
    raise _Unreadable(
        f"a template read from a {kind or 'unknown'} location has no files beside it; register it from a file "
        "location or a local git repository"
    )


def _folder_tree(root: Path) -> _Tree:
    entries: dict[str, _Entry] = {}

    def failed(error: OSError) -> None:
        raise _Unreadable(f"{root}: {error.strerror}: {error.filename}")

    for directory, dirnames, filenames in os.walk(root, onerror=failed):
        # A template kept in a checkout: .git folders are not part of what a run reads (nor of what it copies).
        dirnames[:] = sorted(name for name in dirnames if name != ".git")
        relative_dir = Path(directory).relative_to(root)
        for name in [*dirnames, *sorted(filenames)]:
            relative = (relative_dir / name).as_posix()
            try:
                info = os.lstat(Path(directory) / name)
            except OSError as error:
                failed(error)
                raise  # pragma: no cover - failed() raises
            mode = info.st_mode
            kind = (
                LINK
                if stat.S_ISLNK(mode)
                else FOLDER
                if stat.S_ISDIR(mode)
                else FILE
                if stat.S_ISREG(mode)
                else SPECIAL
            )
            entries[relative] = _Entry(relative, kind, info.st_size)
            if len(entries) > MAX_ENTRIES:
                raise _Unreadable(f"{root} holds more than {MAX_ENTRIES} files and folders")
        # Links to folders are listed, never followed (os.walk's default), so the walk stays inside the folder.

    def read(path: str) -> bytes:
        try:
            with open(root / path, "rb", opener=_no_follow) as handle:
                return handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as error:
            raise _Unreadable(f"{path}: {error.strerror}") from None

    return _Tree(str(root), entries, read)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _git_tree(files: str) -> _Tree:
    repo, _, rest = files[len(GIT_PREFIX) :].partition("#")
    ref, _, folder = rest.partition(":")
    where = f"{repo}#{ref}:{folder}" if folder else f"{repo}#{ref}"
    try:
        target = parse_target(f"{repo}#{ref}:{folder or 'template.yaml'}")
        if target.remote:
            raise _Unreadable(f"{where}: templates are read from local repositories only")
        git_dir = local_git_dir(target)
        revision = f"{target.ref}^{{commit}}"
        commit = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", revision], git_dir=git_dir)
        commit_id = commit.decode().strip()
        listing = run_git(
            ["ls-tree", "-r", "-t", "-l", "-z", "--end-of-options", f"{commit_id}:{folder}"], git_dir=git_dir
        )
    except LocationReadError as error:
        raise _Unreadable(f"{where}: {error}") from None
    entries: dict[str, _Entry] = {}
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4:
            raise _Unreadable(f"{where}: git ls-tree printed an unexpected line")
        mode, size = fields[0].decode(), fields[3].decode()
        path = raw_path.decode(errors="replace")
        kind = {"040000": FOLDER, "120000": LINK, "160000": SUBMODULE}.get(mode)
        if kind is None:
            kind = FILE if mode in ("100644", "100755", "100664") else SPECIAL
        entries[path] = _Entry(path, kind, int(size) if size.isdigit() else 0)
        if len(entries) > MAX_ENTRIES:
            raise _Unreadable(f"{where} holds more than {MAX_ENTRIES} files and folders")

    def read(path: str) -> bytes:
        inner = f"{folder}/{path}" if folder else path
        try:
            return run_git(["cat-file", "blob", "--end-of-options", f"{commit_id}:{inner}"], git_dir=git_dir)
        except LocationReadError as error:
            raise _Unreadable(f"{path}: {error}") from None

    return _Tree(where, entries, read)


__all__ = ["COPIER_FILES", "FETCH_ACTIONS", "FORBIDDEN_COPIER_KEYS", "MAX_ENTRIES", "template_check"]
