"""The override form of the on-call card and the schedule page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BoundField

from catalog.oncall.engine import resolve
from catalog.oncall.loading import LoadedSchedule, Person, user_ref_from_text

_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
# The service's arguments, from the form's fields; and the service's names for fields (the API's) as the form's.
_ARGUMENTS = {"schedule_ref": "schedule", "user_ref": "user", "start": "start", "end": "end", "reason": "reason"}
_SERVICE_FIELDS = {"userRef": "user", "scheduleRef": "schedule"}


def _local_time(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, input_formats=_LOCAL_FORMATS, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class OverrideForm(forms.Form):
    """An override as people type it: local wall-clock times in the schedule's zone (datetime-local inputs), and the
    person as a ref, a user name or a display name picked from the list."""

    schedule = forms.ChoiceField(label="Schedule")
    user = forms.CharField(label="Who", max_length=300, help_text="A team member, or any user's name or ref.")
    start = _local_time("From")
    end = _local_time("To")
    reason = forms.CharField(label="Reason", max_length=500, required=False)
    entity = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, schedules: Sequence[LoadedSchedule], people: Sequence[Person] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.schedules = {s.ref: s for s in schedules}
        self.people = tuple(people)
        choices = [(s.ref, f"{s.title} ({s.zone.key})") for s in schedules]
        self.fields["schedule"].choices = choices  # type: ignore[attr-defined]

    @property
    def suggestions(self) -> list[tuple[str, str]]:
        """The "Who" list as (value, label): a person's name, which the field accepts back, or their ref when two
        people share the name."""
        counts: dict[str, int] = {}
        for person in self.people:
            counts[person.name.lower()] = counts.get(person.name.lower(), 0) + 1
        return [
            (person.name, person.ref) if counts[person.name.lower()] == 1 else (person.ref, person.name)
            for person in self.people
        ]

    @property
    def local_time_fields(self) -> list[BoundField]:
        """From and To, drawn alike: datetime-local inputs in the schedule's zone."""
        return [self["start"], self["end"]]

    def clean_user(self) -> str:
        value = self.cleaned_data["user"]
        ref = user_ref_from_text(text=value, people=self.people)
        if ref is None:
            raise ValidationError(f"'{value}' is not a user ref, user name or the name of anyone in the catalog.")
        return ref

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        loaded = self.schedules.get(data.get("schedule", ""))
        # The form's datetimes are wall-clock times in the schedule's zone, whatever the server's zone is.
        for name in ("start", "end"):
            value = data.get(name)
            if isinstance(value, datetime) and loaded is not None:
                data[name] = resolve(value.replace(tzinfo=None), loaded.zone)
        return data

    def override(self) -> dict[str, Any]:
        """The cleaned override as `services.override_create` takes it."""
        data = self.cleaned_data
        return {name: data[field] for name, field in _ARGUMENTS.items()}

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's refusal beside the field it names."""
        for name, messages in error.message_dict.items():
            target = _SERVICE_FIELDS.get(name, name)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)
