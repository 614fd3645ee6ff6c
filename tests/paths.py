"""Where the tests find material kept outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Backstage's example catalog lives in shared/ beside the checkout (CI lays it there too).
CONFORMANCE = Path(
    os.environ.get("PAVED_CONFORMANCE_DIR", REPO_ROOT.parent / "shared" / "conformance" / "backstage-examples")
).resolve()


def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        raise RuntimeError(
            f"Backstage's example catalog is not at {CONFORMANCE}: keep shared/ beside the checkout "
            "or set PAVED_CONFORMANCE_DIR"
        )
    return CONFORMANCE
