"""Fixtures shared by the catalog tests."""

from __future__ import annotations

from tests.catalog.api_fixtures import api_catalog

__all__ = ["api_catalog"]
