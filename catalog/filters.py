"""The catalog list's one FilterSet: facets, orphan/error flags, full-text and ordering over Entity columns.

Facet parameters repeat (`?owner=a&owner=b`): values of one facet are OR'ed, different facets AND'ed, and
every comparison ignores case as Backstage's filters do. The HTML list uses it through
`catalog.selectors.entity_list_page`; facet counts are computed per facet with that facet's own values left
out, so a user can widen a facet from the counts they see.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_
from typing import Any, Final

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict

from catalog.models import Entity, SearchEntry

MAX_VALUES: Final = 20  # per facet: a URL cannot make one query arbitrarily wide
MAX_VALUE_LENGTH: Final = 300
MAX_TERMS: Final = 8
PAGE_SIZES: Final = (25, 50, 100)

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
# Facet parameter -> the Entity column it filters (tags live in the search table).
FACETS: Final = {
    "kind": "kind",
    "owner": "owner_ref",
    "type": "spec_type",
    "lifecycle": "lifecycle",
    "tag": "tags",
    "system": "system_ref",
    "namespace": "namespace",
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


class ValuesFilter(django_filters.Filter):  # type: ignore[misc]  # django-filter ships no types
    """OR of case-insensitive equality on one column."""

    field_class = ValuesField

    def filter(self, qs: QuerySet[Entity], value: list[str]) -> QuerySet[Entity]:
        if not value:
            return qs
        condition = reduce(or_, (Q(**{f"{self.field_name}__iexact": item}) for item in value))
        return qs.filter(condition)


class TagFilter(ValuesFilter):
    def filter(self, qs: QuerySet[Entity], value: list[str]) -> QuerySet[Entity]:
        if not value:
            return qs
        tagged = SearchEntry.objects.filter(
            entity=OuterRef("pk"), key="metadata.tags", value__in=[item.lower() for item in value]
        )
        return qs.filter(Exists(tagged))


def _split_terms(text: str) -> list[str]:
    return [term for term in text.lower().split() if term][:MAX_TERMS]


def full_text_condition(text: str) -> Q | None:
    """Every term must appear in the entity's name, title, description or tags (the stored `search_text`)."""
    terms = _split_terms(text)
    if not terms:
        return None
    return reduce(lambda acc, term: acc & Q(search_text__contains=term), terms, Q())


class EntityFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    q = django_filters.CharFilter(method="filter_q", max_length=200, label="Search")
    kind = ValuesFilter(field_name="kind")
    owner = ValuesFilter(field_name="owner_ref")
    type = ValuesFilter(field_name="spec_type")
    lifecycle = ValuesFilter(field_name="lifecycle")
    tag = TagFilter(field_name="tags")
    system = ValuesFilter(field_name="system_ref")
    namespace = ValuesFilter(field_name="namespace")
    orphan = django_filters.BooleanFilter(field_name="orphan", widget=forms.NullBooleanSelect)
    error = django_filters.BooleanFilter(method="filter_error", widget=forms.NullBooleanSelect, label="Has errors")
    sort = django_filters.ChoiceFilter(
        method="filter_sort", choices=[(key, ORDERING_LABELS.get(key, key)) for key in ORDERINGS], label="Sort"
    )

    class Meta:
        model = Entity
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Entity], name: str, value: str) -> QuerySet[Entity]:
        condition = full_text_condition(value or "")
        return qs.filter(condition) if condition is not None else qs

    def filter_error(self, qs: QuerySet[Entity], name: str, value: bool | None) -> QuerySet[Entity]:
        if value is None:
            return qs
        return qs.exclude(errors=[]) if value else qs.filter(errors=[])

    def filter_sort(self, qs: QuerySet[Entity], name: str, value: str) -> QuerySet[Entity]:
        return qs.order_by(*ORDERINGS.get(value, ORDERINGS["name"]))

    @property
    def qs(self) -> QuerySet[Entity]:
        queryset: QuerySet[Entity] = super().qs
        if not self.form.cleaned_data.get("sort"):
            queryset = queryset.order_by(*ORDERINGS["name"])
        return queryset


def without(data: QueryDict, names: Iterable[str]) -> QueryDict:
    """A copy of query parameters with `names` removed."""
    copy = data.copy()
    for name in names:
        copy.pop(name, None)
    return copy
