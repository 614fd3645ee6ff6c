"""The catalog's HTML pages: list, search, entity/group/user pages, dependency view, locations.

Views parse the request, call one selector or service and render; every fragment request (htmx) gets only the
partial named after the DOM id it replaces.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import extensions, selectors, services
from catalog.filters import ORDERING_LABELS, PAGE_SIZES
from catalog.locations import errors as location_errors
from catalog.locations.errors import IssueCode
from catalog.models import Entity, Location
from catalog.oncall import selectors as oncall_selectors
from catalog.presentation import GRAPH_RELATIONS, GraphFilter, GraphFilterError, line_numbers, parse_graph_filter
from portal.exceptions import ApplicationError
from portal.http import HtmxHttpRequest, form_invalid, is_fragment_request, render_page, saved
from portal.permissions import Action, may, require

SEARCH_DROPDOWN_SIZE: Final = 8
SEARCH_PAGE_SIZE: Final = 50


def _page_size(raw: str | None) -> int:
    try:
        size = int(raw or PAGE_SIZES[0])
    except ValueError:
        return PAGE_SIZES[0]
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


@require_GET
def entity_list(request: HtmxHttpRequest) -> HttpResponse:
    page_size = _page_size(request.GET.get("size"))
    listing = selectors.entity_list_page(params=request.GET, page_number=request.GET.get("page"), page_size=page_size)
    form = listing.filterset.form
    context = {
        "active_section": "catalog",
        "listing": listing,
        "form": form,
        "page_sizes": PAGE_SIZES,
        "orderings": ORDERING_LABELS,
        "sort": request.GET.get("sort", "name"),
        "q": request.GET.get("q", ""),
        "orphan_only": request.GET.get("orphan") == "true",
        "selected_kind": (form.cleaned_data.get("kind") or [""])[0] if listing.filterset.is_valid() else "",
        "filtered": any(
            request.GET.getlist(key)
            for key in ("q", "owner", "type", "lifecycle", "tag", "system", "namespace", "orphan", "error", "kind")
        ),
    }
    status = 400 if form.errors else 200
    return render_page(request, "catalog/entity_list.html", context, partial="catalog-results", status=status)


@require_GET
def search(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    fragment = is_fragment_request(request)
    results = selectors.entity_search_suggestions(
        text=query, limit=SEARCH_DROPDOWN_SIZE if fragment else SEARCH_PAGE_SIZE
    )
    context = {"active_section": "catalog", "q": query, "results": results, "limit": SEARCH_PAGE_SIZE}
    return render_page(request, "catalog/search.html", context, partial="search-results")


def _entity(namespace: str, kind: str, name: str) -> Entity:
    entity = selectors.entity_get_by_name(kind=kind, namespace=namespace, name=name)
    if entity is None:
        raise Http404(f"No entity {kind}:{namespace}/{name} in the catalog.")
    return entity


@require_GET
def entity_detail(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    page = selectors.entity_page(entity=_entity(namespace, kind, name), tab=request.GET.get("tab", ""))
    context: dict[str, Any] = {
        "active_section": "catalog",
        "page": page,
        "entity": page.entity,
        "kind": page.kind,
        "spec": page.spec,
        "metadata": page.metadata,
        "annotations": page.annotations,
        "labels": page.labels,
        "links": page.links,
        "relations": page.relations,
        "relation_groups": page.relation_groups,
        "source_links": page.source_links,
        "tab": page.tab,
        "may_manage": may(request.user, Action.ENTITY_DELETE, page.entity) if page.entity.orphan else False,
        "api": page.api,
        "group": page.group,
        "person": page.person,
        "profile": page.profile,
        "raw_yaml": page.raw_yaml,
        "raw_yaml_lines": line_numbers(page.raw_yaml) if page.raw_yaml else "",
        "extra_tabs": extensions.entity_tabs(page.entity),
        # A person's on-call shifts come from the on-call room, which reads the catalog (never the other way round).
        "shifts": (
            oncall_selectors.user_shift_summary(user_ref=page.entity.ref)
            if page.kind == "user" and page.tab == "overview"
            else None
        ),
    }
    return render_page(request, "catalog/entity_detail.html", context, partial="entity-tab")


@require_POST
def entity_delete(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    entity = _entity(namespace, kind, name)
    services.entity_delete(entity=entity, actor=request.user)
    return saved(request, f"Deleted {entity.ref}.", redirect_to=reverse("catalog:entity_list"))


@require_GET
def entity_dependencies(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    """The neighbourhood graph and its edge table, narrowed by `relation` (repeatable) and `depth` (1 or 2)."""
    entity = _entity(namespace, kind, name)
    context: dict[str, Any] = {
        "active_section": "catalog",
        "entity": entity,
        "relation_types": GRAPH_RELATIONS,
        "view_url": request.path,
    }
    try:
        graph_filter = parse_graph_filter(relations=request.GET.getlist("relation"), depth=request.GET.get("depth"))
    except GraphFilterError as exc:
        context.update(graph=None, graph_filter=GraphFilter(), filter_error=str(exc))
        return render_page(request, "catalog/entity_dependencies.html", context, partial="dependency-view", status=400)
    context.update(
        graph=selectors.entity_neighbourhood(entity=entity, graph_filter=graph_filter), graph_filter=graph_filter
    )
    return render_page(request, "catalog/entity_dependencies.html", context, partial="dependency-view")


# --- locations ------------------------------------------------------------------------------------------


def _location_form(request: HtmxHttpRequest) -> tuple[str, str]:
    return request.POST.get("type", "").strip(), request.POST.get("target", "").strip()


@require_GET
def location_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "active_section": "catalog",
        "locations": selectors.location_page(page_number=request.GET.get("page")),
        "types": Location.Type.choices,
        "form_type": Location.Type.FILE,
        "may_register": may(request.user, Action.LOCATION_REGISTER),
    }
    return render_page(request, "catalog/location_list.html", context, partial="location-table")


def _error_messages(exc: Exception) -> list[str]:
    if isinstance(exc, ApplicationError):
        return [exc.message]
    if isinstance(exc, DjangoValidationError):
        return list(exc.messages)
    return [str(exc)]


def _register_context(request: HtmxHttpRequest, location_type: str, target: str) -> dict[str, Any]:
    return {
        "active_section": "catalog",
        "form_type": location_type,
        "form_target": target,
        "types": Location.Type.choices,
        "locations": selectors.location_page(page_number=None),
        "may_register": may(request.user, Action.LOCATION_REGISTER),
    }


def _register_refused(request: HtmxHttpRequest, location_type: str, target: str, exc: Exception) -> HttpResponse:
    """The register form again with why the location was refused, in place (htmx) or as the page."""
    status = exc.status if isinstance(exc, ApplicationError) and exc.status in (400, 403, 409) else 400
    context = {**_register_context(request, location_type, target), "form_errors": _error_messages(exc)}
    return form_invalid(request, "catalog/location_list.html", context, partial="location-preview", status=status)


@require_POST
def location_preview(request: HtmxHttpRequest) -> HttpResponse:
    """Dry run: what registering the form's location would create, or why it cannot be registered."""
    location_type, target = _location_form(request)
    try:
        preview = services.location_create(type=location_type, target=target, actor=request.user, dry_run=True)
    except (ApplicationError, DjangoValidationError) as exc:
        return _register_refused(request, location_type, target, exc)
    context = {**_register_context(request, location_type, target), "preview": preview}
    return render_page(request, "catalog/location_list.html", context, partial="location-preview")


@require_POST
def location_create(request: HtmxHttpRequest) -> HttpResponse:
    location_type, target = _location_form(request)
    try:
        location = services.location_create(type=location_type, target=target, actor=request.user)
    except (ApplicationError, DjangoValidationError) as exc:
        return _register_refused(request, location_type, target, exc)
    return saved(
        request,
        f"Registered {location.key}; its first refresh is queued.",
        redirect_to=reverse("catalog:location_detail", args=[location.pk]),
    )


@require_GET
def location_detail(request: HtmxHttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = _location(location_id)
    context = {
        **_location_status(request, location),
        "active_section": "catalog",
        "entities": selectors.location_entities_page(location=location, page_number=request.GET.get("page")),
        "conflicts": location_errors.with_code(location.errors, IssueCode.CONFLICT),
    }
    return render_page(request, "catalog/location_detail.html", context, partial="location-entities")


def _location_status(request: HtmxHttpRequest, location: Location) -> dict[str, Any]:
    """The location and the buttons its status card and page offer this user."""
    return {
        "location": location,
        "may_refresh": may(request.user, Action.LOCATION_REFRESH, location),
        "may_delete": may(request.user, Action.LOCATION_DELETE, location),
        "may_trust": may(request.user, Action.LOCATION_TRUST, location),
    }


def _location(location_id: uuid.UUID) -> Location:
    location = selectors.location_get(location_id=location_id)
    if location is None:
        raise Http404(f"No location {location_id}.")
    return location


@require_POST
def location_refresh(request: HtmxHttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = _location(location_id)
    services.location_refresh_request(location=location, actor=request.user)
    context = {**_location_status(request, location), "queued": True}
    return saved(
        request,
        f"Refresh of {location.key} queued.",
        redirect_to=reverse("catalog:location_detail", args=[location.pk]),
        fragment=lambda: render_page(request, "catalog/location_detail.html", context, partial="location-status"),
        level="info",
    )


@require_http_methods(["GET", "POST"])
def location_delete(request: HtmxHttpRequest, location_id: uuid.UUID) -> HttpResponse:
    """GET asks for confirmation (the no-JS path); POST unregisters the location and removes what it manages."""
    location = _location(location_id)
    if request.method == "GET":
        require(request.user, Action.LOCATION_DELETE, location)
        return render_page(request, "catalog/location_delete.html", {"active_section": "catalog", "location": location})
    services.location_delete(location=location, actor=request.user)
    return saved(request, f"Unregistered {location.key}.", redirect_to=reverse("catalog:location_list"))


@require_POST
def location_trust(request: HtmxHttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = _location(location_id)
    trusted = request.POST.get("trusted") == "true"
    location = services.location_set_trusted(location=location, trusted=trusted, actor=request.user)
    context = _location_status(request, location)
    return saved(
        request,
        f"{location.key} is now {'trusted' if trusted else 'untrusted'}.",
        redirect_to=reverse("catalog:location_detail", args=[location.pk]),
        fragment=lambda: render_page(request, "catalog/location_detail.html", context, partial="location-status"),
    )
