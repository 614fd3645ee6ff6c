from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination


class PortalPagination(LimitOffsetPagination):
    """Every list is paginated on the server; clients may ask for up to `max_limit` rows at once."""

    default_limit = 50
    max_limit = 500
