from __future__ import annotations

from django.apps import AppConfig


class ScaffolderConfig(AppConfig):
    name = "scaffolder"
    verbose_name = "Scaffolder"
