from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.apps import AppConfig

# Both are pure (no models), so they may be imported while Django loads its apps.
from catalog.descriptors import SpecIssue, set_extra_validator
from catalog.oncall.engine import validate_policy_spec, validate_schedule_spec


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        # The descriptor package stays free of the on-call engine; the engine's deep checks (time zones,
        # turns, restriction windows, member kinds) are plugged into ingestion here.
        set_extra_validator("Schedule", _inside_spec(validate_schedule_spec))
        set_extra_validator("EscalationPolicy", _inside_spec(validate_policy_spec))
        # Registers the tasks with Celery in every process, not only in workers, so that catalog.jobs enqueues them
        # by name; they load models, so not before the app registry is ready.
        from catalog import tasks  # noqa: F401


def _inside_spec(validate: Callable[[object], Iterable[Any]]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """The engine names paths from the root (`spec.layers[0].turn`); the registry wants them inside `spec`."""

    def run(spec: Mapping[str, Any]) -> list[Any]:
        out = []
        for issue in validate(spec):
            path = issue.path
            path = "" if path == "spec" else path.removeprefix("spec.")
            out.append(SpecIssue(path, issue.message))
        return out

    return run
