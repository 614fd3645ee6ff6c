from __future__ import annotations

from django.apps import AppConfig


class ScaffolderConfig(AppConfig):
    name = "scaffolder"
    verbose_name = "Scaffolder"

    def ready(self) -> None:
        # Registers the tasks with Celery in every process, not only in workers, so that scaffolder.jobs enqueues
        # them by name; they load models, so not before the app registry is ready.
        from scaffolder import tasks  # noqa: F401
