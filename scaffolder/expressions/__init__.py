"""The scaffolder's expression core: `${{ … }}` in Backstage Template v1beta3 values, evaluated in a Jinja2 sandbox.

Pure: it imports nothing from Django or the apps. The semantics are described in `engine`.
"""

from __future__ import annotations

from scaffolder.expressions.engine import (
    FILTERS,
    MAX_EACH_ITEMS,
    MAX_SECONDS,
    MAX_TEMPLATE_LENGTH,
    MAX_VALUE_SIZE,
    ExpressionContext,
    condition_true,
    expand_each,
    is_truthy,
    render_value,
)
from scaffolder.expressions.errors import ExpressionError, FilterError
from scaffolder.expressions.filters import RepoSpec, parse_entity_ref, parse_repo_url, pick, project_slug

__all__ = [
    "FILTERS",
    "MAX_EACH_ITEMS",
    "MAX_SECONDS",
    "MAX_TEMPLATE_LENGTH",
    "MAX_VALUE_SIZE",
    "ExpressionContext",
    "ExpressionError",
    "FilterError",
    "RepoSpec",
    "condition_true",
    "expand_each",
    "is_truthy",
    "parse_entity_ref",
    "parse_repo_url",
    "pick",
    "project_slug",
    "render_value",
]
