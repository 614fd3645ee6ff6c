from __future__ import annotations

from django.apps import AppConfig


class ScaffolderConfig(AppConfig):
    name = "scaffolder"
    verbose_name = "Scaffolder"

    def ready(self) -> None:
        # Importing tasks registers them with Celery in every process, not only in workers, so that scaffolder.jobs
        # enqueues them by name; they load models, so not before the app registry is ready.
        from catalog.extensions import register_entity_check
        from scaffolder import tasks  # noqa: F401
        from scaffolder.validation import template_check

        # The catalog refuses, at registration and on every refresh, a Template a run must not execute (unknown
        # actions, Copier code, links, paths leading out); it never imports the scaffolder, so the check is handed
        # to it here.
        register_entity_check("Template", template_check)
