from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import signin  # noqa: F401 - connects the sign-in audit receivers
        from portal.api import schema  # noqa: F401 - registers the OpenAPI description of token auth
