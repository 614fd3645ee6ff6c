"""Fixtures of the location readers' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def root(tmp_path, settings):
    """An empty folder under tmp_path that is the only allowed file root."""
    base = tmp_path / "catalog"
    base.mkdir()
    settings.PAVED_CATALOG_FILE_ROOTS = [str(base)]
    return base
