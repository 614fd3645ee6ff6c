from __future__ import annotations

from .recorded import api, no_api

__all__ = ["api", "no_api"]
