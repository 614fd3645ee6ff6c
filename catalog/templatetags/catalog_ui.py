"""Template helpers of the catalog pages: entity URLs and readable refs (through catalog.refs), query strings that
keep state."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from catalog import refs
from catalog.models import Entity
from catalog.oncall.presentation import PALETTE
from catalog.refs import EntityRef
from catalog.selectors import RelatedEntity
from portal.templatetags.portal_ui import initials

register = template.Library()


@register.filter
def entity_url(value: Entity | EntityRef | str) -> str:
    """The catalog page of an entity, or of a ref `kind:namespace/name` whether or not the entity exists."""
    if isinstance(value, Entity):
        return value.get_absolute_url()
    return refs.ref_url(value if isinstance(value, EntityRef) else str(value or ""))


@register.filter
def ref_label(ref: str, default_kind: str = "") -> str:
    """`team-a` for `group:default/team-a`, `other/team-a` outside the default namespace; with a default kind,
    refs of other kinds keep theirs (`{{ ref|ref_label:"group" }}` shows `user:alice`)."""
    return refs.ref_label(str(ref or ""), default_kind=default_kind)


register.filter("initials", initials)


@register.simple_tag
def related_link(item: RelatedEntity, show_kind: Any = False) -> SafeString:
    """A relation target as every catalog page shows it: a link to its page when it is in the catalog, its readable
    ref marked missing otherwise, with a kind badge when `show_kind`.

    A tag rather than an include: a group's page shows hundreds of them, and each include costs more than the markup.
    """
    if item.exists:
        badge = (
            format_html('<span class="badge bg-{}-lt me-1">{}</span>', kind_colour(item.kind), item.kind)
            if show_kind
            else ""
        )
        return format_html(
            '<a href="{}" class="paved-related" data-ref="{}">{}{}</a>', item.url, item.ref, badge, item.title
        )
    badge = format_html('<span class="badge bg-secondary-lt me-1">{}</span>', item.parts.kind) if show_kind else ""
    return format_html(
        '<span class="paved-missing" data-ref="{}" title="{} is not in the catalog">{}{} '
        '<span class="visually-hidden">(missing)</span></span>',
        item.ref,
        item.ref,
        badge,
        ref_label(item.ref),
    )


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with `changes` applied (`None` removes a key); always resets `page` unless given."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None and value != "":
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def query_without_value(context: dict[str, Any], key: str, value: str) -> str:
    """The current query string with one value of a repeated parameter removed (the "x" on a filter chip)."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    params.pop("page", None)
    remaining = [item for item in params.getlist(key) if item != value]
    params.setlist(key, remaining)
    if not remaining:
        params.pop(key, None)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


KIND_COLOURS = {
    "component": "blue",
    "api": "purple",
    "resource": "orange",
    "system": "teal",
    "domain": "cyan",
    "group": "green",
    "user": "lime",
    "template": "pink",
    "location": "secondary",
}


@register.filter
def kind_colour(kind: str) -> str:
    return KIND_COLOURS.get(str(kind).lower(), "azure")


@register.filter
def colour_class(colour: str) -> str:
    """The CSS class of a person's colour (`paved-colour-0` … `-11` in paved.css, in `PALETTE` order): colours come
    from classes, never from style attributes, which the Content-Security-Policy refuses."""
    try:
        return f"paved-colour-{PALETTE.index(str(colour))}"
    except ValueError:
        return ""


@register.filter
def kind_plural(kind: str, count: int = 2) -> str:
    """`Component` → `Components`, `API` → `APIs`, `EscalationPolicy` → `EscalationPolicies` (unless count is 1)."""
    text = str(kind)
    if count == 1:
        return text
    if text.endswith("y") and text[-2:-1].lower() not in "aeiou":
        return f"{text[:-1]}ies"
    return f"{text}s"
