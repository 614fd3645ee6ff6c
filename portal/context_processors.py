from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from portal.navigation import nav_items


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "PAVED_VERSION": settings.SPECTACULAR_SETTINGS["VERSION"],
        "nav_items": nav_items(),
    }
