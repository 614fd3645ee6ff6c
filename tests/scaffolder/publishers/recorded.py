"""Replaying recorded GitHub and GitLab API answers (tests/fixtures/scm/) and reading back what was asked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import responses
from responses.registries import OrderedRegistry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scm"
TOKEN = "ghp_s3cr3tT0kenThatMustNeverLeak0000000000"
GITLAB_TOKEN = "glpat-s3cr3tT0kenThatMustNeverLeak"
RUN_KEY = "3f1c2a9e-run:publish"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@contextmanager
def replay() -> Iterator[responses.RequestsMock]:
    """The API, answering only the registered requests, in the order registered, each exactly once."""
    with responses.RequestsMock(assert_all_requests_are_fired=True, registry=OrderedRegistry) as mock:
        yield mock


@contextmanager
def silence() -> Iterator[responses.RequestsMock]:
    """No request may be made at all."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert len(mock.calls) == 0


def asked(mock: responses.RequestsMock) -> list[tuple[str | None, str | None, Any]]:
    """Each request as (method, URL, JSON body or None)."""
    out = []
    for call in mock.calls:
        body = call.request.body
        out.append((call.request.method, call.request.url, json.loads(body) if body else None))
    return out


def authorizations(mock: responses.RequestsMock) -> set[str | None]:
    return {call.request.headers.get("Authorization") for call in mock.calls}


def make_workspace(root: Path) -> Path:
    """A rendered service: an ignored log, an executable script."""
    (root / "scripts").mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\n")
    (root / "catalog-info.yaml").write_text("metadata:\n  name: checkout\n")
    (root / "scripts" / "run.sh").write_text("#!/bin/sh\nexec python\n")
    os.chmod(root / "scripts" / "run.sh", 0o700)
    (root / "debug.log").write_text("not published\n")
    return root
