"""Operator scripts: the production smoke test and the production processes it and the benchmarks start."""

from __future__ import annotations
