"""What every location reader offers: expand a target into files, read one, parse it with placeholders resolved."""

from __future__ import annotations

from typing import Protocol

from catalog.descriptors import DEFAULT_LIMITS, Limits, LocationTarget, ParseResult, resolve_relative
from catalog.descriptors.errors import IssueCode

from . import fetch


class LocationReadError(Exception):
    """A target that may not or could not be read. The message names the target and says why; `code` is what is
    recorded with it (`fetch` for what the fetch guard refused or could not fetch, `read` for the rest)."""

    def __init__(self, message: str, *, code: IssueCode = IssueCode.READ) -> None:
        super().__init__(message)
        self.code = code


class Reader(Protocol):
    """One reader per location type. Targets are the strings stored in `Location.target` (normalised by
    `normalise`); every method raises LocationReadError with a message fit for the location's owner."""

    type: str

    def normalise(self, target: str) -> str:
        """Check a target someone wants to register and return its canonical form."""
        ...

    def expand(self, target: str) -> list[str]:
        """The concrete sources a target stands for (a directory or glob lists files; others are themselves)."""
        ...

    def read(self, source: str, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
        """The raw bytes of one source, refused when larger than `limits.max_bytes`."""
        ...

    def parse(self, source: str, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
        """Parse a source with its placeholders resolved relative to it; nested Location targets come back
        absolute (for git: `<repo>#<ref>:<path>`), ready to read."""
        ...

    def nested(self, source: str, target: LocationTarget) -> LocationTarget:
        """Resolve a target as written in a Location entity of `source` (relative or not) to an absolute one."""
        ...

    def covers(self, target: str, source: str) -> bool:
        """Whether `source` is one of the files `target` stands for (used to keep entities when it fails)."""
        ...


class GuardedResolver:
    """Resolves `$text/$json/$yaml` placeholders: URLs (absolute, or relative to a URL source) always go through
    the fetch guard; everything else is the reader's own kind of path, read by `read_local`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def read(self, target: str, *, relative_to: str) -> bytes:
        if "://" in target:  # any scheme goes to the guard, which says which ones are allowed
            return fetch.fetch(target, max_bytes=self.limits.max_bytes)
        resolved = resolve_relative(relative_to, target)
        if "://" in resolved:
            return fetch.fetch(resolved, max_bytes=self.limits.max_bytes)
        return self.read_local(resolved)

    def read_local(self, path: str) -> bytes:
        raise NotImplementedError
