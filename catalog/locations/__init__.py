"""Location readers: turn a registered target into descriptor files, one reader per location type.

`file` (file, directory or glob under PAVED_CATALOG_FILE_ROOTS), `url` (http/https through the fetch guard) and
`git` (blobs of a local or remote repository). Each reader also resolves `$text/$json/$yaml` placeholders and
nested Location targets relative to the file being parsed.

Around them: `walk` reads a whole location (nesting, the cache of unchanged files, the sources a failure keeps),
`errors` builds every error a location records, `trust` says which locations may declare which kinds.
"""

from __future__ import annotations

from .base import LocationReadError, Reader
from .file import FileReader
from .git import GitReader, GitTarget, parse_target
from .url import UrlReader

TYPES = ("file", "url", "git")


def reader_for(location_type: str) -> Reader:
    """A fresh reader (readers remember what they fetched during one refresh, so do not share them)."""
    if location_type == "file":
        return FileReader()
    if location_type == "url":
        return UrlReader()
    if location_type == "git":
        return GitReader()
    raise LocationReadError(f"unknown location type {location_type!r}; expected one of {', '.join(TYPES)}")


__all__ = [
    "TYPES",
    "FileReader",
    "GitReader",
    "GitTarget",
    "LocationReadError",
    "Reader",
    "UrlReader",
    "parse_target",
    "reader_for",
]
