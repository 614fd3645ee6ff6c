from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import AppConfig


def scorecard_entity_problems(entity: Mapping[str, Any], source: str) -> Iterable[Any]:
    """The catalog's entity check for Scorecards: a rule type this Paved does not know, parameters that do not fit
    the rule, duplicate ids or levels, filters that do not parse — each with its path and the engine's sentence."""
    from catalog.extensions import EntityProblem
    from scorecards.engine.scorecard import entity_problems

    return [EntityProblem(problem.path, problem.message) for problem in entity_problems(entity)]


def scorecards_tab_url(entity: Any) -> str | None:
    """The "Scorecards" tab of a catalog page: a component's results, a group's roll-up; other kinds have none."""
    from django.urls import reverse

    kind = str(entity.kind).lower()
    if kind == "component":
        return reverse("scorecards:entity", args=[entity.namespace.lower(), kind, entity.name.lower()])
    if kind == "group":
        return reverse("scorecards:team", args=[entity.namespace.lower(), entity.name.lower()])
    return None


class ScorecardsConfig(AppConfig):
    name = "scorecards"
    verbose_name = "Scorecards"

    def ready(self) -> None:
        from catalog.extensions import register_change_listener, register_entity_check

        # Registered here so that a task sent by name runs in this process when tasks are eager (tests, demo).
        from scorecards import events, tasks  # noqa: F401

        register_entity_check("scorecard", scorecard_entity_problems)
        register_change_listener(events.catalog_changed)

        from catalog.extensions import register_entity_tab

        register_entity_tab("Scorecards", scorecards_tab_url)
