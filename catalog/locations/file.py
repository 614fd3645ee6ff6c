"""`file` locations: a file, a directory (its *.yaml and *.yml files) or a glob, confined to configured roots."""

from __future__ import annotations

import glob
import os
import posixpath
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Final

from django.conf import settings

from catalog.descriptors import DEFAULT_LIMITS, Limits, LocationTarget, ParseResult, parse_file, resolve_relative

from .base import GuardedResolver, LocationReadError

DEMO_ROOT: Final = Path(settings.BASE_DIR) / "portal" / "demo"
_GLOB_CHARS: Final = frozenset("*?[")


def file_roots() -> list[str]:
    """Directories file targets must lie under (after resolving symlinks): the configured ones and the demo org."""
    roots = [os.path.realpath(root) for root in settings.PAVED_CATALOG_FILE_ROOTS]
    roots.append(os.path.realpath(DEMO_ROOT))
    return roots


def is_under_roots(path: str, roots: list[str] | None = None) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots or file_roots())


def _check_path(path: str) -> str:
    """Refuse paths that escape the roots, directly (`..`) or through symlinks; return the real path."""
    if "\x00" in path:
        raise LocationReadError(f"{path!r}: a path must not contain NUL bytes")
    real = os.path.realpath(path)
    if not is_under_roots(real):
        via = f" (it resolves to {real})" if real != os.path.normpath(path) else ""
        raise LocationReadError(
            f"{path}: outside the allowed file roots{via}; allowed are {', '.join(file_roots())} "
            "(set PAVED_CATALOG_FILE_ROOTS)"
        )
    return real


class FileReader:
    type = "file"

    def normalise(self, target: str) -> str:
        target = target.strip()
        if not target:
            raise LocationReadError("a file location needs a path")
        if not os.path.isabs(target):
            raise LocationReadError(f"{target}: a file location needs an absolute path")
        path = os.path.normpath(target)
        # A glob is checked through the directory it starts from.
        _check_path(self._glob_base(path) if self._is_glob(path) else path)
        return path

    @staticmethod
    def _is_glob(path: str) -> bool:
        return any(char in _GLOB_CHARS for char in path)

    @staticmethod
    def _glob_base(path: str) -> str:
        parts = path.split(os.sep)
        for index, part in enumerate(parts):
            if any(char in _GLOB_CHARS for char in part):
                return os.sep.join(parts[:index]) or os.sep
        return path

    def expand(self, target: str) -> list[str]:
        path = os.path.normpath(target)
        if self._is_glob(path):
            _check_path(self._glob_base(path))
            matches = sorted(m for m in glob.glob(path, recursive=True) if os.path.isfile(m))
            if not matches:
                raise LocationReadError(f"{target}: no files match")
            return matches
        real = _check_path(path)
        if os.path.isdir(real):
            files = sorted(
                os.path.join(path, name)
                for name in os.listdir(real)
                if name.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(real, name))
            )
            if not files:
                raise LocationReadError(f"{target}: the directory holds no .yaml or .yml files")
            return files
        if not os.path.exists(real):
            raise LocationReadError(f"{target}: file not found")
        return [path]

    def read(self, source: str, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
        real = _check_path(source)
        try:
            size = os.stat(real).st_size
            if not os.path.isfile(real):
                raise LocationReadError(f"{source}: not a regular file")
            if size > limits.max_bytes:
                raise LocationReadError(f"{source}: {size} bytes, larger than {limits.max_bytes} bytes")
            with open(real, "rb") as handle:
                data = handle.read(limits.max_bytes + 1)
        except FileNotFoundError:
            raise LocationReadError(f"{source}: file not found") from None
        except OSError as exc:
            raise LocationReadError(f"{source}: could not be read ({exc.strerror or exc})") from None
        if len(data) > limits.max_bytes:  # grew since stat
            raise LocationReadError(f"{source}: larger than {limits.max_bytes} bytes")
        return data

    def parse(self, source: str, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
        return parse_file(data, file=source, resolver=_FileResolver(self, limits), limits=limits, location_type="file")

    def nested(self, source: str, target: LocationTarget) -> LocationTarget:
        if target.type != self.type:
            return target
        return LocationTarget(type=target.type, target=resolve_relative(source, target.target))

    def covers(self, target: str, source: str) -> bool:
        path = os.path.normpath(target)
        if self._is_glob(path):
            return fnmatchcase(source, path)
        if source == path:
            return True
        return posixpath.dirname(source) == path


class _FileResolver(GuardedResolver):
    """`$text/$json/$yaml` of a file: relative paths next to it (within the roots), absolute URLs through the guard."""

    def __init__(self, reader: FileReader, limits: Limits) -> None:
        super().__init__(limits)
        self.reader = reader

    def read_local(self, path: str) -> bytes:
        return self.reader.read(path, limits=self.limits)
