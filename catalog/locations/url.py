"""`url` locations: one http(s) document, fetched through the guard; placeholders and nesting resolve against it."""

from __future__ import annotations

from urllib.parse import urlsplit

from catalog.descriptors import DEFAULT_LIMITS, Limits, LocationTarget, ParseResult, parse_file, resolve_relative
from catalog.descriptors.errors import IssueCode

from . import fetch
from .base import LocationReadError


class UrlReader:
    type = "url"

    def normalise(self, target: str) -> str:
        target = target.strip()
        try:
            fetch.check_url(target)
        except fetch.FetchError as exc:
            raise LocationReadError(str(exc), code=IssueCode.FETCH) from None
        return target

    def expand(self, target: str) -> list[str]:
        return [target]

    def read(self, source: str, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
        try:
            return fetch.fetch(source, max_bytes=limits.max_bytes)
        except fetch.FetchError as exc:
            raise LocationReadError(str(exc), code=IssueCode.FETCH) from None

    def parse(self, source: str, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
        return parse_file(data, file=source, resolver=_UrlResolver(limits), limits=limits, location_type="url")

    def nested(self, source: str, target: LocationTarget) -> LocationTarget:
        if target.type != self.type:
            return target
        return LocationTarget(type=target.type, target=resolve_relative(source, target.target))

    def covers(self, target: str, source: str) -> bool:
        return target == source


class _UrlResolver:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def read(self, target: str, *, relative_to: str) -> bytes:
        if "://" in target:  # any scheme goes to the guard, which says which ones are allowed
            return fetch.fetch(target, max_bytes=self.limits.max_bytes)
        resolved = resolve_relative(relative_to, target)
        if not urlsplit(resolved).scheme:
            raise LocationReadError(f"{resolved}: not a URL")
        return fetch.fetch(resolved, max_bytes=self.limits.max_bytes)
