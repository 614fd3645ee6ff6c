"""File-tree helpers shared by the file-producing actions: confined paths, skeleton scans, size checks, merges."""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from .base import ActionContext, ActionError


def template_source(ctx: ActionContext, url: str) -> Path:
    """The directory `url` (`./skeleton`) names inside the template's own files; nothing outside them."""
    if ctx.template_dir is None:
        raise ActionError("template", "this step needs the template's files, but the run has none")
    if "://" in url or url.startswith(("/", "~")) or ":" in url.split("/", 1)[0]:
        raise ActionError(
            "input", f"url {url!r}: only a path relative to the template (such as ./skeleton) is supported"
        )
    relative = confined_relative(url, "url")
    root = Path(os.path.realpath(ctx.template_dir))
    source = root.joinpath(*relative.parts)
    for step in [root.joinpath(*relative.parts[:index]) for index in range(1, len(relative.parts) + 1)]:
        if step.is_symlink():
            raise ActionError("unsafe", f"url {url!r}: {step.relative_to(root)} in the template is a symbolic link")
    if not source.is_dir():
        raise ActionError("template", f"url {url!r}: the template has no directory {relative.as_posix()}")
    return source


def confined_relative(value: str, field: str) -> PurePosixPath:
    """A relative POSIX path without `..`; `''` and `./` mean the root."""
    path = PurePosixPath(value or ".")
    if path.is_absolute() or "\\" in value or "\x00" in value:
        raise ActionError("unsafe", f"{field} {value!r} must be a relative path")
    if ".." in path.parts:
        raise ActionError("unsafe", f"{field} {value!r} must not contain '..'")
    return PurePosixPath(*[part for part in path.parts if part != "."]) if path.parts else PurePosixPath()


def target_dir(ctx: ActionContext, target_path: str) -> Path:
    """`targetPath` inside the workspace, refused if a symlink on the way could lead out of it."""
    relative = confined_relative(target_path, "targetPath")
    root = Path(os.path.realpath(ctx.workspace))
    target = root.joinpath(*relative.parts)
    for index in range(1, len(relative.parts) + 1):
        step = root.joinpath(*relative.parts[:index])
        if step.is_symlink() or (step.exists() and not step.is_dir()):
            raise ActionError("unsafe", f"targetPath {target_path!r}: {relative.parts[:index]} is not a directory")
    return target


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Backstage-style glob (`**` across directories, `*` and `?` within one) matched against a whole path."""
    pattern = pattern.removeprefix("./")
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out) + "(?:/.*)?")


def scan_tree(root: Path, *, max_bytes: int, max_files: int, what: str) -> tuple[list[str], list[str], int]:
    """The directories and regular files under `root` (POSIX relative paths, sorted) and their total size, skipping
    `.git`.

    Refuses symlinks, special files and more than the size limits; `what` names the tree in messages."""
    directories: list[str] = []
    files: list[str] = []
    total = 0

    def walk_error(error: OSError) -> None:
        raise ActionError("template", f"cannot read {what}: {error.strerror}: {error.filename}")

    for directory, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames[:] = sorted(name for name in dirnames if name != ".git")
        relative_dir = Path(directory).relative_to(root)
        for name in [*dirnames, *sorted(filenames)]:
            full = Path(directory) / name
            relative = (relative_dir / name).as_posix()
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                raise ActionError("unsafe", f"{what}: {relative} is a symbolic link; symbolic links are refused")
            if stat.S_ISDIR(info.st_mode):
                directories.append(relative)
                continue
            if not stat.S_ISREG(info.st_mode):
                raise ActionError("unsafe", f"{what}: {relative} is not a regular file")
            files.append(relative)
            total += info.st_size
            if len(files) > max_files:
                raise ActionError("size", f"{what} has more than {max_files} files")
            if total > max_bytes:
                raise ActionError("size", f"{what} is larger than {max_bytes} bytes")
    return directories, files, total


def merge_tree(ctx: ActionContext, staging: Path, target: Path, *, replace: bool) -> list[str]:
    """Copy the staged files into `target` (inside the workspace); existing files are kept unless `replace`.

    Returns the paths written, relative to the workspace."""
    workspace = Path(os.path.realpath(ctx.workspace))
    limits = {"max_bytes": ctx.settings.max_bytes, "max_files": ctx.settings.max_files}
    directories, files, size = scan_tree(staging, **limits, what="the rendered output")
    _, existing, existing_size = scan_tree(workspace, **limits, what="the workspace")
    # Checked before anything is written, counting replaced files twice: a refused step leaves the workspace as it was.
    if len(files) + len(existing) > ctx.settings.max_files:
        raise ActionError("size", f"the workspace would have more than {ctx.settings.max_files} files")
    if size + existing_size > ctx.settings.max_bytes:
        raise ActionError("size", f"the workspace would be larger than {ctx.settings.max_bytes} bytes")
    written: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    for relative in directories:
        destination = target / relative
        if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
            raise ActionError("unsafe", f"{destination.relative_to(workspace)} exists and is not a directory")
        destination.mkdir(exist_ok=True)
    for relative in files:
        destination = target / relative
        shown = destination.relative_to(workspace).as_posix()
        if destination.is_symlink() or destination.is_dir():
            raise ActionError("unsafe", f"{shown} exists and is not a regular file")
        if destination.exists() and not replace:
            ctx.log(f"kept the existing {shown}")
            continue
        shutil.copyfile(staging / relative, destination, follow_symlinks=False)
        shutil.copymode(staging / relative, destination, follow_symlinks=False)
        written.append(shown)
    return written


def string_input(value: Mapping[str, Any], key: str, default: str) -> str:
    found = value.get(key, default)
    return found if isinstance(found, str) else default
