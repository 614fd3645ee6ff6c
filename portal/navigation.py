"""The top navigation. A section shows once its app serves the named URL, so each app owns its own entry point."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str
    description: str


NAV_ITEMS = (
    NavItem(
        "Catalog", "catalog:entity_list", "catalog", "Every service, API, resource, system and team, and who owns what."
    ),
    NavItem("Create", "scaffolder:template_list", "create", "Start a new service from a sanctioned template."),
    NavItem("Scorecards", "scorecards:overview", "scorecards", "How mature each service is, and what to fix next."),
    NavItem("On-call", "catalog:oncall_now", "oncall", "Who is on call right now, and who is next, at every level."),
)


def nav_items() -> list[dict[str, str]]:
    items = []
    for item in NAV_ITEMS:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append({"label": item.label, "url": url, "section": item.section, "description": item.description})
    return items
