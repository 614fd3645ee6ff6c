"""Scorecards' lists, one FilterSet each: exemptions, campaigns and the history of transitions.

Parameters are named as the API names them (`entityRef`, `scorecardRef`, `from`, `to`). Refs are read as the catalog
reads them (`checkout` is `component:default/checkout`, `production-readiness` is
`scorecard:default/production-readiness`) and compared lower-cased, as they are stored; a ref that is not on the form
`[<kind>:][<namespace>/]<name>` is an error naming its parameter, never an empty list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from catalog.descriptors.refs import RefError, parse_ref
from scorecards.models import Campaign, Exemption, Score, Transition

MAX_REF_LENGTH: Final = 300


class RefField(forms.CharField):
    """An entity ref, its kind defaulting to `default_kind`, as the stored lower-cased `kind:namespace/name`."""

    def __init__(self, *, default_kind: str, example: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_REF_LENGTH)
        super().__init__(**kwargs)
        self.default_kind = default_kind
        self.example = example

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if not text:
            return ""
        try:
            return str(parse_ref(text, default_kind=self.default_kind))
        except RefError as error:
            raise forms.ValidationError(f"{error}; expected a ref like {self.example}.") from None


class RefFilter(django_filters.CharFilter):  # type: ignore[misc]  # django-filter ships no types
    """Rows whose ref column equals the given ref."""

    field_class = RefField


def entity_ref_filter(field_name: str = "entity_ref") -> RefFilter:
    return RefFilter(
        field_name=field_name, default_kind="component", example="component:default/checkout", label="Entity ref"
    )


def scorecard_ref_filter() -> RefFilter:
    return RefFilter(
        field_name="scorecard_ref",
        default_kind="scorecard",
        example="scorecard:default/production-readiness",
        label="Scorecard ref",
    )


def owner_ref_filter() -> RefFilter:
    return RefFilter(field_name="owner_ref", default_kind="group", example="group:default/payments", label="Owner ref")


class StrictFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    """A date or a choice given empty (`?to=`) is an error, as the API's schema says, not "no filter"."""

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        for name, declared in self.filters.items():
            if (
                isinstance(declared, django_filters.DateFilter | django_filters.ChoiceFilter)
                and self.data.get(name) == ""
            ):
                self.form.add_error(name, "Give a value or leave the parameter out.")
                valid = False
        return valid


class ExemptionFilterSet(StrictFilterSet):
    entityRef = entity_ref_filter()
    scorecardRef = scorecard_ref_filter()
    checkId = django_filters.CharFilter(field_name="check_id", max_length=200, label="Check id")
    status = django_filters.ChoiceFilter(field_name="status", choices=Exemption.Status.choices)

    class Meta:
        model = Exemption
        fields: list[str] = []


class CampaignFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    scorecardRef = scorecard_ref_filter()
    ownerRef = owner_ref_filter()

    class Meta:
        model = Campaign
        fields: list[str] = []


# A day away from the ends of the calendar, so that no time zone moves an instant out of it.
_FIRST_DAY: Final = dt.date.min + dt.timedelta(days=1)
_LAST_DAY: Final = dt.date.max - dt.timedelta(days=1)


def _day_start(value: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(min(max(value, _FIRST_DAY), _LAST_DAY), dt.time.min))


def day_end(value: dt.date) -> dt.datetime:
    """The last instant of `value` in the portal's time zone: what was so "on" that date is so at this instant."""
    return timezone.make_aware(dt.datetime.combine(min(max(value, _FIRST_DAY), _LAST_DAY), dt.time.max))


class TransitionFilterSet(StrictFilterSet):
    """Transitions in time order; `from` and `to` are dates, both included (days in the portal's time zone)."""

    entityRef = entity_ref_filter()
    scorecardRef = scorecard_ref_filter()
    ownerRef = owner_ref_filter()
    kind = django_filters.ChoiceFilter(field_name="kind", choices=Transition.Kind.choices)
    checkId = django_filters.CharFilter(field_name="check_id", max_length=200, label="Check id")
    start = django_filters.DateFilter(method="filter_from", label="From (date, included)")
    end = django_filters.DateFilter(method="filter_to", label="To (date, included)")

    class Meta:
        model = Transition
        fields: list[str] = []

    def filter_from(self, qs: QuerySet[Transition], name: str, value: dt.date) -> QuerySet[Transition]:
        return qs.filter(at__gte=_day_start(value))

    def filter_to(self, qs: QuerySet[Transition], name: str, value: dt.date) -> QuerySet[Transition]:
        return qs.filter(at__lte=day_end(value))

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        data = self.form.cleaned_data
        start, end = data.get("from"), data.get("to")
        if valid and start is not None and end is not None and end < start:
            self.form.add_error("to", f"to ({end.isoformat()}) is before from ({start.isoformat()}).")
            return False
        return valid


# `from` is a Python keyword: the filters are declared as `start` and `end` and answer to the API's names.
TransitionFilterSet.base_filters["from"] = TransitionFilterSet.base_filters.pop("start")
TransitionFilterSet.base_filters["to"] = TransitionFilterSet.base_filters.pop("end")


class ScoreFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    """The services scored on one scorecard: `team` (the owner's ref, `payments` is `group:default/payments`) and
    `level` (a level's name, compared case-insensitively, or `none` for services holding no level)."""

    team = owner_ref_filter()
    level = django_filters.CharFilter(method="filter_level", max_length=200, label="Level")

    class Meta:
        model = Score
        fields: list[str] = []

    def filter_level(self, qs: QuerySet[Score], name: str, value: str) -> QuerySet[Score]:
        if value.strip().lower() == "none":
            return qs.filter(level="")
        return qs.filter(level__iexact=value.strip())
