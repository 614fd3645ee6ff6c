"""The catalog list's one FilterSet: the page's parameters with the API's meaning.

The page keeps its parameters (`?kind=&owner=&tag=&q=&sort=`), but each facet is a Backstage filter key and the
search box is the API's full-text term, and both are answered by catalog.query, as `/api/catalog/` answers them:
`?owner=group:default/payments&tag=python&q=take payments` lists what `/api/catalog/entities/by-query?filter=
relations.ownedby=group:default/payments,metadata.tags=python&fullTextFilterTerm=take payments` returns.

Facet parameters repeat (`?owner=a&owner=b`): values of one facet are OR'ed, different facets AND'ed, and every
comparison ignores case. `orphan` and `error` are the page's own flags (`orphan=true` is the API's
`metadata.annotations.backstage.io/orphan=true`). The HTML list uses the FilterSet through
`catalog.selectors.entity_list_page`, which counts each facet with that facet's own values left out, so a user can
widen a facet from the counts they see.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from catalog import query
from catalog.models import Entity

MAX_VALUES: Final = 20  # per facet: a URL cannot make one query arbitrarily wide
MAX_VALUE_LENGTH: Final = 300
PAGE_SIZES: Final = (25, 50, 100)

# Facet parameter -> the Backstage filter key the API answers the same question with. Owner and system values are
# full refs (`group:default/payments`), as relations hold them.
FILTER_KEYS: Final = {
    "kind": "kind",
    "owner": "relations.ownedby",
    "type": "spec.type",
    "lifecycle": "spec.lifecycle",
    "tag": "metadata.tags",
    "system": "relations.partof",
    "namespace": "metadata.namespace",
}
# Facet parameter -> where its values are counted: the Entity column holding what the key above matches (the owner
# column is the entity's ownedBy target, the system column its partOf target of kind System; tags live in the
# search table).
FACETS: Final = {
    "kind": "kind",
    "owner": "owner_ref",
    "type": "spec_type",
    "lifecycle": "lifecycle",
    "tag": "tags",
    "system": "system_ref",
    "namespace": "namespace",
}

DEFAULT_SORT: Final = "name"
# `?sort=` value -> the columns it orders by; the later ones break ties, so pages never overlap.
ORDERINGS: Final = {
    "name": ("name", "kind", "namespace"),
    "-name": ("-name", "kind", "namespace"),
    "kind": ("kind", "name", "namespace"),
    "-kind": ("-kind", "name", "namespace"),
    "owner": ("owner_ref", "name", "kind"),
    "-owner": ("-owner_ref", "name", "kind"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
}
ORDERING_LABELS: Final = {
    "name": "Name (A to Z)",
    "-name": "Name (Z to A)",
    "kind": "Kind",
    "owner": "Owner",
    "-updated": "Recently updated",
    "updated": "Least recently updated",
}


class ValuesField(forms.Field):
    """A repeated query parameter as a cleaned list: blanks dropped, trimmed, bounded in count and length."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if value in (None, "", []):
            return []
        values = value if isinstance(value, list | tuple) else [value]
        cleaned: list[str] = []
        for item in values:
            text = str(item).strip()
            if not text:
                continue
            if len(text) > MAX_VALUE_LENGTH:
                raise forms.ValidationError(f"Values are at most {MAX_VALUE_LENGTH} characters long.")
            if text not in cleaned:
                cleaned.append(text)
        if len(cleaned) > MAX_VALUES:
            raise forms.ValidationError(f"At most {MAX_VALUES} values per filter.")
        return cleaned


class ConditionFilter(django_filters.Filter):  # type: ignore[misc]  # django-filter ships no types
    """One facet: any of its values, as the Backstage filter `<key>=<value1>,<key>=<value2>` matches them."""

    field_class = ValuesField

    def __init__(self, *, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def condition(self, values: list[str] | None) -> query.Condition | None:
        return query.Condition.of(self.key, values) if values else None

    def filter(self, qs: QuerySet[Entity], value: list[str] | None) -> QuerySet[Entity]:
        condition = self.condition(value)
        return qs if condition is None else query.entity_queryset(((condition,),), base=qs)


class SortFilter(django_filters.OrderingFilter):  # type: ignore[misc]  # django-filter ships no types
    """`?sort=` (see ORDERINGS), by name when absent; each choice orders with its tie-breakers."""

    def filter(self, qs: QuerySet[Entity], value: list[str] | None) -> QuerySet[Entity]:
        params = [param for param in value or () if param] or [DEFAULT_SORT]
        return qs.order_by(*dict.fromkeys(column for param in params for column in ORDERINGS[param]))


class EntityFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    q = django_filters.CharFilter(method="filter_full_text", max_length=query.MAX_FULL_TEXT_LENGTH, label="Search")
    kind = ConditionFilter(key=FILTER_KEYS["kind"])
    owner = ConditionFilter(key=FILTER_KEYS["owner"])
    type = ConditionFilter(key=FILTER_KEYS["type"])
    lifecycle = ConditionFilter(key=FILTER_KEYS["lifecycle"])
    tag = ConditionFilter(key=FILTER_KEYS["tag"])
    system = ConditionFilter(key=FILTER_KEYS["system"])
    namespace = ConditionFilter(key=FILTER_KEYS["namespace"])
    orphan = django_filters.BooleanFilter(field_name="orphan", widget=forms.NullBooleanSelect)
    error = django_filters.BooleanFilter(method="filter_error", widget=forms.NullBooleanSelect, label="Has errors")
    sort = SortFilter(
        fields={"name": "name", "kind": "kind", "owner_ref": "owner", "updated_at": "updated"}, label="Sort"
    )

    class Meta:
        model = Entity
        fields: list[str] = []

    @property
    def entity_filter(self) -> query.EntityFilter:
        """The facets as the one Backstage filter (a single AND of conditions) the API answers the same way."""
        cleaned = self._valid_data()
        conditions = tuple(
            condition
            for name, facet in self.filters.items()
            if isinstance(facet, ConditionFilter) and (condition := facet.condition(cleaned.get(name))) is not None
        )
        return (conditions,) if conditions else ()

    @property
    def full_text(self) -> query.FullText:
        """The search box as the API's `fullTextFilterTerm` (over name, title, description and tags)."""
        return query.parse_full_text(self._valid_data().get("q") or "", ())

    def _valid_data(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.errors  # noqa: B018  # validates the form; invalid parameters are left out of cleaned_data
        return dict(self.form.cleaned_data)

    def filter_full_text(self, qs: QuerySet[Entity], name: str, value: str) -> QuerySet[Entity]:
        return query.entity_queryset(full_text=query.parse_full_text(value, ()), base=qs)

    def filter_error(self, qs: QuerySet[Entity], name: str, value: bool | None) -> QuerySet[Entity]:
        if value is None:
            return qs
        return qs.exclude(errors=[]) if value else qs.filter(errors=[])

    def filter_queryset(self, queryset: QuerySet[Entity]) -> QuerySet[Entity]:
        queryset = super().filter_queryset(queryset)
        if "sort" not in self.form.cleaned_data:  # a refused sort still lists in a stable order
            queryset = queryset.order_by(*ORDERINGS[DEFAULT_SORT])
        return queryset


def without(data: QueryDict, names: Iterable[str]) -> QueryDict:
    """A copy of query parameters with `names` removed."""
    copy = data.copy()
    for name in names:
        copy.pop(name, None)
    return copy
