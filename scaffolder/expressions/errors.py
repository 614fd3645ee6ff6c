"""The one error of the expression core: what failed, where in the template, and a code for callers."""

from __future__ import annotations

from typing import Final, Literal

ErrorCode = Literal["syntax", "forbidden", "undefined", "too_large", "invalid"]

SYNTAX: Final = "syntax"
FORBIDDEN: Final = "forbidden"
UNDEFINED: Final = "undefined"
TOO_LARGE: Final = "too_large"
INVALID: Final = "invalid"


class ExpressionError(ValueError):
    """An expression in a template could not be evaluated.

    `path` names the place in the template value (`steps[1].input.name`), `code` says what kind of failure it was:
    `syntax` (the expression does not parse), `forbidden` (it reaches for something templates may not use),
    `undefined` (it operates on a missing value), `too_large` (the template or its result exceeds a limit) or
    `invalid` (anything else: a type error, a filter refusing its input).
    """

    def __init__(self, message: str, path: str = "", *, code: ErrorCode = INVALID) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path
        self.code: ErrorCode = code


class FilterError(ValueError):
    """A filter refused its input; the renderer reports it as an ExpressionError with the path."""
