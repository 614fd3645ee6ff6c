"""Scorecards' HTML forms: asking for an exemption, deciding one, starting a campaign. They only shape input; the
services check it against the catalog and the scorecard and their errors are shown beside the field they name."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django import forms
from django.conf import settings
from django.utils import timezone

from scorecards import services

# Service argument → form field, so a service's ValidationError lands beside the field it is about.
SERVICE_FIELDS: Final = {
    "scorecard_ref": "scorecard",
    "check_id": "check",
    "reason": "reason",
    "expires_at": "expires_on",
    "comment": "comment",
    "slug": "slug",
    "title": "title",
    "description": "description",
    "target_level": "target_level",
    "check_ids": "target_level",
    "filter": "filter",
    "due_date": "due_date",
    "owner_ref": "owner_ref",
}


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise forms.ValidationError("NUL characters are not allowed.")
    return value


class ExemptionRequestForm(forms.Form):
    scorecard = forms.CharField(max_length=300, widget=forms.HiddenInput)
    check = forms.CharField(max_length=200, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=services.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this check cannot pass yet, and what is being done about it.",
    )
    expires_on = forms.DateField(
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The exemption ends by itself at the end of this day (UTC or the portal's time zone).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = settings.PAVED_SCORECARDS_MAX_EXEMPTION_DAYS
        self.fields["expires_on"].help_text = f"It ends by itself at the end of this day; at most {days} days ahead."
        if not self.is_bound:
            self.initial.setdefault("expires_on", timezone.localdate() + dt.timedelta(days=min(30, days)))

    def clean_reason(self) -> str:
        return _no_nul(self.cleaned_data["reason"])

    def clean_scorecard(self) -> str:
        return _no_nul(self.cleaned_data["scorecard"])

    def clean_check(self) -> str:
        return _no_nul(self.cleaned_data["check"])

    def expires_at(self) -> dt.datetime:
        """The last instant of the chosen day in the portal's time zone."""
        day: dt.date = self.cleaned_data["expires_on"]
        # A day at the very end of the calendar cannot be made an instant; the service refuses it as too far anyway.
        day = min(day, dt.date.max - dt.timedelta(days=1))
        return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=services.MAX_COMMENT_LENGTH, required=False)

    def clean_comment(self) -> str:
        return _no_nul(self.cleaned_data["comment"])


class CampaignForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="The campaign's name in its URL.")
    scorecard = forms.ChoiceField(choices=())
    target_level = forms.CharField(max_length=200, help_text="A level of the scorecard, e.g. Silver.")
    filter = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Which services, in Backstage filter syntax (spec.lifecycle=production); empty: all scored.",
    )
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, scorecards: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scorecard"].choices = scorecards  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("title", "filter", "description", "target_level"):
            if isinstance(data.get(name), str) and "\x00" in data[name]:
                self.add_error(name, "NUL characters are not allowed.")
        return data


def add_service_errors(form: forms.Form, messages: dict[str, list[str]]) -> None:
    """Put a service's ValidationError messages beside the fields they are about (the form's top otherwise)."""
    for name, texts in messages.items():
        field = SERVICE_FIELDS.get(name)
        for text in texts:
            form.add_error(field if field in form.fields else None, text)
