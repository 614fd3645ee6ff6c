"""Where the tests find the material kept in the repository as test data."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
# Backstage's own example catalog (Apache-2.0; LICENSE, NOTICE and PROVENANCE.md beside it).
CONFORMANCE = FIXTURES / "backstage-examples"


def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        raise RuntimeError(f"Backstage's example catalog is missing from the repository at {CONFORMANCE}")
    return CONFORMANCE
