from __future__ import annotations

from typing import Any, Final

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_OFFSET: Final = 10**9


class PortalPagination(LimitOffsetPagination):
    """Every list is paginated on the server; clients may ask for up to `max_limit` rows at once.

    A limit or offset that is not a whole number in range is an error, as the schema says, rather than quietly
    replaced by the default (DRF's own behaviour).
    """

    default_limit = 50
    max_limit = 500

    def get_limit(self, request: Request) -> int:
        return self._whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit) or (
            self.default_limit
        )

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_limit, "default": self.default_limit}
        offset["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}
        return [limit, offset]

    @staticmethod
    def _whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)) and minimum <= int(raw) <= maximum):
            raise ValidationError({name: [f"Expected a whole number from {minimum} to {maximum}, got '{raw[:40]}'."]})
        return int(raw)
