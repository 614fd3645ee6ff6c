"""Forms built from a Backstage Template v1beta3's `spec.parameters`: JSON Schema pages as Django forms.

Each page is an object schema (`title`, `required`, `properties`, `ui:*` keys). `page_form` turns one page into a
Django form, `field_value` + `field_errors` check a single field as it changes (htmx), and `clean_parameters` /
`validate_parameters` check everything again on submit, with the Django forms and then with `jsonschema`
(Draft 7, as Backstage uses), so values that reach a run are plain JSON of the declared types.

Parameter values are untrusted data: strings are bounded (MAX_STRING_LENGTH) and lists too (MAX_ITEMS), nothing
in them is ever evaluated (`${{ }}` stays literal text), and labels and help texts are escaped.

Supported: plain `properties` of type string, number, integer, boolean, array of enum (checkboxes), array of
strings (one per line) and object (JSON), with `enum`/`enumNames`, `default`, `pattern`, `format` (email, uri),
`minLength`/`maxLength`, `minimum`/`maximum`/`exclusive*`, `multipleOf`, `minItems`/`maxItems`, and the ui keys
`ui:widget`, `ui:help`, `ui:placeholder`, `ui:autofocus`, and `ui:field` OwnerPicker, EntityPicker and
RepoUrlPicker. Conditional fields (`dependencies`, `oneOf`, `allOf`, `if`) are not drawn; the page lists them in
`FormPage.notes` and the full check on submit still applies them. Drawn plainly (the check on submit still
holds): a `type` given as a list (text), RepoUrlPicker's
`allowedOwners`/`allowedRepos` (free text), and any other `ui:field` (text, with a note).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils.html import escape
from jsonschema import Draft7Validator
from jsonschema import ValidationError as SchemaValidationError
from jsonschema.exceptions import SchemaError

from scaffolder.expressions import ExpressionContext, ExpressionError, FilterError, condition_true, parse_repo_url

logger = logging.getLogger(__name__)

MAX_STRING_LENGTH: Final = 10_000
MAX_ITEMS: Final = 1_000
NON_FIELD: Final = "__all__"

FieldValidator = Callable[[Any], None]

_CONDITIONAL_KEYS: Final = ("dependencies", "oneOf", "anyOf", "allOf", "if")
_PICKERS: Final = {"OwnerPicker": "owner", "EntityPicker": "entity", "MyGroupsPicker": "owner"}
# An owner or repository name as git hosts accept it: no path separators, no query syntax, no leading dot.
_REPO_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_ENTITY_REF = re.compile(r"(?:[A-Za-z0-9_.-]+:)?(?:[A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+")
_TYPE_WORDS: Final = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}


class TemplateSchemaError(ValueError):
    """A template's parameters are not a usable form: the message names the page and the property."""


@dataclass(frozen=True, slots=True)
class FormPage:
    """One page of a template's form: its title, its description and its JSON Schema (ui keys included)."""

    title: str
    description: str
    schema: Mapping[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def properties(self) -> Mapping[str, Any]:
        properties = self.schema.get("properties") or {}
        return properties if isinstance(properties, Mapping) else {}

    @property
    def required(self) -> frozenset[str]:
        required = self.schema.get("required") or []
        return frozenset(name for name in required if isinstance(name, str))

    def label(self, name: str) -> str:
        """The property's title, as people read it in messages; its name when it has none."""
        prop = self.properties.get(name)
        title = prop.get("title") if isinstance(prop, Mapping) else None
        return title if isinstance(title, str) and title else name


@dataclass(frozen=True, slots=True)
class CleanedParameters:
    """What the submitted form amounts to: JSON values by name, and messages by field name (empty when valid)."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)


def template_pages(parameters: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None) -> list[FormPage]:
    """The pages of `spec.parameters`: a list of object schemas, or a single one (one page)."""
    if parameters is None:
        return []
    raw_pages = [parameters] if isinstance(parameters, Mapping) else list(parameters)
    pages: list[FormPage] = []
    for index, raw in enumerate(raw_pages, start=1):
        if not isinstance(raw, Mapping):
            raise TemplateSchemaError(f"parameters[{index - 1}]: expected an object schema, found {type(raw).__name__}")
        properties = raw.get("properties", {})
        if not isinstance(properties, Mapping) or not all(isinstance(p, Mapping) for p in properties.values()):
            raise TemplateSchemaError(f"parameters[{index - 1}].properties: expected an object of schemas")
        try:
            Draft7Validator.check_schema(_strip_ui(raw))
        except SchemaError as error:
            raise TemplateSchemaError(f"parameters[{index - 1}]: not a valid JSON Schema: {error.message}") from None
        for name, prop in properties.items():
            try:
                build_field(str(name), prop, required=False)
            except TemplateSchemaError as error:
                raise TemplateSchemaError(f"parameters[{index - 1}].properties.{error}") from None
        notes = [
            f"This page has conditional fields ({key}) that the form does not show; they are checked on submit."
            for key in _CONDITIONAL_KEYS
            if key in raw
        ]
        pages.append(
            FormPage(
                title=str(raw.get("title") or f"Step {index}"),
                description=str(raw.get("description") or ""),
                schema=raw,
                notes=tuple(notes),
            )
        )
    return pages


# -- Building fields --------------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    """16384, not 16384.0, in messages."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _help(prop: Mapping[str, Any]) -> str:
    # Django's field templates print help_text as safe HTML, so template text is escaped here.
    text = prop.get("ui:help") or prop.get("description") or ""
    return escape(str(text))


def _max_length_validator(label: str, limit: int) -> FieldValidator:
    def check(value: Any) -> None:
        if isinstance(value, str) and len(value) > limit:
            raise ValidationError(f"{label} must be at most {limit} characters", code="max_length")

    return check


def _min_length_validator(label: str, limit: int) -> FieldValidator:
    def check(value: Any) -> None:
        if isinstance(value, str) and len(value) < limit:
            raise ValidationError(f"{label} must be at least {limit} characters", code="min_length")

    return check


def _pattern_validator(label: str, pattern: str) -> FieldValidator:
    compiled = re.compile(pattern)

    def check(value: Any) -> None:
        # JSON Schema patterns are not anchored: search, as jsonschema does.
        if isinstance(value, str) and not compiled.search(value):
            raise ValidationError(f"{label} must match {pattern}", code="pattern")

    return check


def _format_validator(label: str, fmt: str) -> FieldValidator | None:
    if fmt == "email":

        def check_email(value: Any) -> None:
            try:
                validate_email(value)
            except ValidationError:
                raise ValidationError(f"{label} must be an email address", code="format") from None

        return check_email
    if fmt in ("uri", "url"):
        url = URLValidator(schemes=["http", "https", "ssh", "git"])

        def check_uri(value: Any) -> None:
            try:
                url(value)
            except ValidationError:
                raise ValidationError(f"{label} must be a URL (https://…)", code="format") from None

        return check_uri
    return None


def _range_validators(label: str, prop: Mapping[str, Any]) -> list[FieldValidator]:
    minimum, maximum = prop.get("minimum"), prop.get("maximum")
    exclusive_min, exclusive_max = prop.get("exclusiveMinimum"), prop.get("exclusiveMaximum")
    # Draft 4 spells exclusiveness as a boolean beside minimum/maximum; Draft 6+ as a number of its own.
    if exclusive_min is True:
        exclusive_min, minimum = minimum, None
    if exclusive_max is True:
        exclusive_max, maximum = maximum, None
    rules: list[tuple[Any, Callable[[float, float], bool], str, str]] = [
        (minimum, lambda v, limit: v >= limit, "at least", "minimum"),
        (maximum, lambda v, limit: v <= limit, "at most", "maximum"),
        (exclusive_min, lambda v, limit: v > limit, "greater than", "exclusive_minimum"),
        (exclusive_max, lambda v, limit: v < limit, "less than", "exclusive_maximum"),
    ]
    validators: list[FieldValidator] = []
    for limit, holds, words, code in rules:
        if not _is_number(limit):
            continue

        def check(value: Any, limit: Any = limit, holds: Any = holds, words: str = words, code: str = code) -> None:
            if _is_number(value) and not holds(value, limit):
                raise ValidationError(f"{label} must be {words} {_number(limit)}", code=code)

        validators.append(check)
    multiple = prop.get("multipleOf")
    if isinstance(multiple, int | float) and not isinstance(multiple, bool) and multiple > 0:

        def check_multiple(value: Any) -> None:
            if _is_number(value) and not math.isclose(value / multiple, round(value / multiple), abs_tol=1e-9):
                raise ValidationError(f"{label} must be a multiple of {_number(multiple)}", code="multiple_of")

        validators.append(check_multiple)
    return validators


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _items_validators(label: str, prop: Mapping[str, Any]) -> list[FieldValidator]:
    min_items, max_items = prop.get("minItems"), prop.get("maxItems")
    limit = min(max_items, MAX_ITEMS) if isinstance(max_items, int) else MAX_ITEMS

    def check(value: Any) -> None:
        if not isinstance(value, list):
            return
        if len(value) > limit:
            raise ValidationError(f"{label} must have at most {limit} items", code="max_items")
        if isinstance(min_items, int) and len(value) < min_items:
            raise ValidationError(f"{label} must have at least {min_items} items", code="min_items")

    return [check]


def _widget_attrs(prop: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    placeholder = prop.get("ui:placeholder")
    if isinstance(placeholder, str | int | float) and not isinstance(placeholder, bool):
        attrs["placeholder"] = str(placeholder)
    if prop.get("ui:autofocus") is True:
        attrs["autofocus"] = True
    if prop.get("ui:readonly") is True or prop.get("readOnly") is True:
        attrs["readonly"] = True
    return attrs


def _choice_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _choices(prop: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    enum = list(prop.get("enum") or [])
    names = prop.get("enumNames")
    names = list(names) if isinstance(names, list) and len(names) == len(enum) else None
    choices = [(_choice_key(value), str(names[i] if names else value)) for i, value in enumerate(enum)]
    return choices, {_choice_key(value): value for value in enum}


class JsonCharField(forms.CharField):
    """Text, bounded before anything else looks at it."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        if len(text) > MAX_STRING_LENGTH:
            raise ValidationError(f"{self.label} must be at most {MAX_STRING_LENGTH} characters", code="max_length")
        return text


class LinesField(forms.CharField):
    """A list of strings, typed one per line."""

    widget = forms.Textarea

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            lines = [str(item) for item in value]
        else:
            text = super().to_python(value) or ""
            if len(text) > MAX_STRING_LENGTH * 10:
                raise ValidationError(f"{self.label} is too long", code="max_length")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) > MAX_ITEMS:
            raise ValidationError(f"{self.label} must have at most {MAX_ITEMS} items", code="max_items")
        for line in lines:
            if len(line) > MAX_STRING_LENGTH:
                raise ValidationError(
                    f"each item of {self.label} must be at most {MAX_STRING_LENGTH} characters", code="max_length"
                )
        return lines

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value


class BoundedMultipleChoiceField(forms.TypedMultipleChoiceField):
    """Checkboxes whose number of ticked boxes is bounded before they are looked at."""

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
            raise ValidationError(f"{self.label} must have at most {MAX_ITEMS} items", code="max_items")
        return super().to_python(value)


class BoundedJSONField(forms.JSONField):
    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
            raise ValidationError(f"{self.label} must be at most {MAX_STRING_LENGTH} characters", code="max_length")
        return super().to_python(value)


class PickerInput(forms.TextInput):
    """A text input that asks the server for suggestions as people type (into a datalist beside it).

    Nothing is loaded up front: the view behind `picker_url` answers with `<option>`s for what was typed.
    """

    template_name = "scaffolder/_field_picker.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        suggestions_id = f"{widget_attrs.get('id') or name}-suggestions"
        widget_attrs["list"] = suggestions_id
        if "hx-get" in widget_attrs:
            widget_attrs["hx-target"] = f"#{suggestions_id}"
        context["widget"]["suggestions_id"] = suggestions_id
        return context


def repo_url_hosts() -> list[str]:
    """A RepoUrlPicker's hosts when the template names none: the embedded host and every GitHub or GitLab host of
    `PAVED_SCM_INTEGRATIONS` that has a token."""
    configured = [entry["host"] for entry in getattr(settings, "PAVED_SCM_INTEGRATIONS", ()) if entry.get("token")]
    return ["local", *configured]


class RepoUrlWidget(forms.MultiWidget):
    """Host (from the allowed hosts), owner and repository, side by side."""

    template_name = "scaffolder/_field_repo_url.html"

    def __init__(self, hosts: Sequence[str], attrs: dict[str, Any] | None = None) -> None:
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            "host": forms.Select(choices=[(host, host) for host in hosts]),
            "owner": forms.TextInput(attrs={"placeholder": "owner", "aria-label": "Owner"}),
            "repo": forms.TextInput(attrs={"placeholder": "repository", "aria-label": "Repository"}),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if not value:
            return [None, None, None]
        try:
            spec = parse_repo_url(value)
        except FilterError:
            return [None, None, None]
        return [spec.host, spec.owner, spec.repo]


class RepoUrlField(forms.MultiValueField):
    """Backstage's RepoUrlPicker: cleaned to `host?owner=o&repo=r`, the form `parseRepoUrl` reads.

    Owner and repository are single path segments (no `/`, `&`, `?`, `..`), so the string cannot carry more
    query parameters or reach outside the owner's space.
    """

    def __init__(self, *, hosts: Sequence[str], label: str, **kwargs: Any) -> None:
        self.hosts = list(hosts)
        part = {"max_length": 100, "required": False}
        fields = (
            # Any text: compress() names the allowed hosts when another one is sent.
            forms.CharField(max_length=255, required=False),
            forms.CharField(**part),  # type: ignore[arg-type]
            forms.CharField(**part),  # type: ignore[arg-type]
        )
        super().__init__(fields, widget=RepoUrlWidget(self.hosts), label=label, require_all_fields=False, **kwargs)

    def clean(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            value = self.widget.decompress(value)
        return super().clean(value)

    def compress(self, data_list: list[Any]) -> str:
        if not data_list or not any(data_list):
            return ""
        host, owner, repo = [*list(data_list), None, None, None][:3]
        if host not in self.hosts:
            raise ValidationError(f"{self.label}: the host must be one of {', '.join(self.hosts)}", code="host")
        for word, part in (("owner", owner), ("repository", repo)):
            if not part:
                raise ValidationError(f"{self.label}: the {word} is required", code="required")
            if not _REPO_PART.fullmatch(part) or ".." in part:
                raise ValidationError(
                    f"{self.label}: the {word} may contain only letters, digits, '.', '-' and '_' "
                    "and must not start with '.' or contain '..'",
                    code="invalid",
                )
        return f"{host}?{urlencode({'owner': owner, 'repo': repo})}"


def _picker_query(name: str, prop: Mapping[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    options = prop.get("ui:options") or {}
    options = options if isinstance(options, Mapping) else {}
    query: list[tuple[str, str]] = [("field", name), ("picker", kind)]
    data: dict[str, Any] = {"data-picker": kind}
    catalog_filter = options.get("catalogFilter")
    filters = catalog_filter if isinstance(catalog_filter, list) else [catalog_filter] if catalog_filter else []
    for item in filters:
        if not isinstance(item, Mapping):
            continue
        for key, value in item.items():
            for one in value if isinstance(value, list) else [value]:
                if isinstance(one, str | int | float | bool):
                    query.append((f"filter.{key}", str(one)))
    if filters:
        data["data-catalog-filter"] = json.dumps(filters)
    allowed = options.get("allowedKinds")
    if isinstance(allowed, list):
        kinds = [str(k) for k in allowed if isinstance(k, str)]
        query.extend(("kind", k) for k in kinds)
        data["data-allowed-kinds"] = ",".join(kinds)
    default_kind = options.get("defaultKind")
    if isinstance(default_kind, str):
        query.append(("defaultKind", default_kind))
        data["data-default-kind"] = default_kind
    return urlencode(query), data


def _picker_validator(label: str, prop: Mapping[str, Any]) -> FieldValidator:
    options = prop.get("ui:options") or {}
    allowed = options.get("allowedKinds") if isinstance(options, Mapping) else None
    kinds = sorted(k for k in allowed if isinstance(k, str)) if isinstance(allowed, list) else []
    allowed_kinds = {k.lower() for k in kinds}

    def check(value: Any) -> None:
        if not isinstance(value, str) or not value:
            return
        if not _ENTITY_REF.fullmatch(value):
            raise ValidationError(f"{label} must be an entity reference like group:default/payments", code="ref")
        if allowed_kinds and ":" in value and value.split(":", 1)[0].lower() not in allowed_kinds:
            raise ValidationError(f"{label} must be one of the kinds {', '.join(kinds)}", code="kind")

    return check


def build_field(
    name: str, prop: Mapping[str, Any], *, required: bool, picker_url: str | None = None
) -> tuple[forms.Field, str | None]:
    """The Django field for one property, and a note when the property asks for something Paved draws plainly."""
    label = str(prop.get("title") or name)
    help_text = _help(prop)
    attrs = _widget_attrs(prop)
    widget_name = prop.get("ui:widget")
    ui_field = prop.get("ui:field")
    kind = prop.get("type", "string")
    default = prop.get("default")
    common: dict[str, Any] = {
        "label": label,
        "help_text": help_text,
        "required": required,
        "error_messages": {
            "required": f"{label} is required",
            "invalid_choice": f"{label} must be one of the choices offered",
            "invalid_list": f"{label} must be a list of choices",
            "invalid": f"{label} is not valid",
        },
    }
    if default is not None:
        common["initial"] = default
    note: str | None = None

    if isinstance(ui_field, str) and ui_field in _PICKERS:
        picker = _PICKERS[ui_field]
        query, data = _picker_query(name, prop, picker)
        picker_attrs: dict[str, Any] = {**attrs, **data, "autocomplete": "off"}
        if picker_url:
            picker_attrs.update({"hx-get": f"{picker_url}?{query}", "hx-trigger": "input changed delay:300ms, focus"})
            picker_attrs["hx-swap"] = "innerHTML"
        return (
            JsonCharField(
                widget=PickerInput(attrs=picker_attrs),
                validators=[_max_length_validator(label, 1000), _picker_validator(label, prop)],
                **common,
            ),
            None,
        )
    if ui_field == "RepoUrlPicker":
        options = prop.get("ui:options") or {}
        hosts = options.get("allowedHosts") if isinstance(options, Mapping) else None
        hosts = [h for h in hosts if isinstance(h, str)] if isinstance(hosts, list) else []
        return RepoUrlField(hosts=hosts or repo_url_hosts(), **common), None
    if ui_field is not None:
        note = f"{label} uses the {ui_field!s:.60} field, which Paved shows as plain text."
        common["help_text"] = escape(
            " ".join(t for t in (str(prop.get("ui:help") or prop.get("description") or ""), note) if t)
        )
        kind = "string" if kind not in ("string", "number", "integer", "boolean") else kind

    if "enum" in prop and kind != "array":
        choices, lookup = _choices(prop)
        widget: forms.Widget = forms.RadioSelect(attrs=attrs) if widget_name == "radio" else forms.Select(attrs=attrs)
        if widget_name != "radio" and (not required or default is None):
            choices = [("", "---------"), *choices]
        if default is not None:
            common["initial"] = _choice_key(default)
        return (
            forms.TypedChoiceField(
                choices=choices, coerce=lambda key: lookup[key], empty_value=None, widget=widget, **common
            ),
            note,
        )
    if kind == "boolean" and widget_name in ("radio", "select"):
        yes_no = [("true", "Yes"), ("false", "No")]
        choice_widget = forms.RadioSelect(attrs=attrs) if widget_name == "radio" else forms.Select(attrs=attrs)
        if isinstance(default, bool):
            common["initial"] = "true" if default else "false"
        return (
            forms.TypedChoiceField(
                choices=yes_no if required or widget_name == "radio" else [("", "---------"), *yes_no],
                coerce=lambda key: key == "true",
                empty_value=None,
                widget=choice_widget,
                **common,
            ),
            note,
        )
    if kind == "boolean":
        # In JSON Schema a required boolean must be present, not true: an unticked box is false.
        common["required"] = False
        return forms.BooleanField(widget=forms.CheckboxInput(attrs=attrs), **common), note
    if kind in ("number", "integer"):
        number_attrs = dict(attrs)
        for key, attr in (("minimum", "min"), ("maximum", "max"), ("multipleOf", "step")):
            if _is_number(prop.get(key)):
                number_attrs[attr] = _number(prop[key])
        if kind == "number" and "step" not in number_attrs:
            number_attrs["step"] = "any"
        field_class = forms.IntegerField if kind == "integer" else forms.FloatField
        common["error_messages"]["invalid"] = f"{label} must be {_TYPE_WORDS[kind]}"
        return (
            field_class(
                widget=forms.NumberInput(attrs=number_attrs), validators=_range_validators(label, prop), **common
            ),
            note,
        )
    if kind == "array":
        items = prop.get("items") or {}
        items = items if isinstance(items, Mapping) else {}
        validators = _items_validators(label, prop)
        if "enum" in items:
            choices, lookup = _choices(items)
            if default is not None and isinstance(default, list):
                common["initial"] = [_choice_key(value) for value in default]
            # Required means present in JSON Schema; an empty list is present. minItems asks for ticks.
            common["required"] = False
            return (
                BoundedMultipleChoiceField(
                    choices=choices,
                    coerce=lambda key: lookup[key],
                    widget=forms.CheckboxSelectMultiple(attrs=attrs),
                    validators=validators,
                    **common,
                ),
                note,
            )
        if items.get("type", "string") == "string":
            return LinesField(widget=forms.Textarea(attrs={**attrs, "rows": 4}), validators=validators, **common), note
    if kind in ("object", "array"):
        note = note or f"{label} is typed as JSON."
        return BoundedJSONField(widget=forms.Textarea(attrs={**attrs, "rows": 6}), **common), note

    # Text.
    validators = [_max_length_validator(label, MAX_STRING_LENGTH)]
    text_attrs = dict(attrs)
    max_length, min_length = prop.get("maxLength"), prop.get("minLength")
    if isinstance(max_length, int) and not isinstance(max_length, bool):
        validators.append(_max_length_validator(label, min(max_length, MAX_STRING_LENGTH)))
        text_attrs["maxlength"] = str(min(max_length, MAX_STRING_LENGTH))
    if isinstance(min_length, int) and not isinstance(min_length, bool) and min_length > 0:
        validators.append(_min_length_validator(label, min_length))
    pattern = prop.get("pattern")
    if isinstance(pattern, str):
        try:
            validators.append(_pattern_validator(label, pattern))
        except re.error as error:
            raise TemplateSchemaError(f"{name}: the pattern {pattern!r} does not compile: {error}") from None
    fmt = prop.get("format")
    format_check = _format_validator(label, fmt) if isinstance(fmt, str) else None
    if format_check is not None:
        validators.append(format_check)
    if widget_name == "textarea":
        widget = forms.Textarea(attrs={**text_attrs, "rows": 4})
    elif widget_name == "password":
        widget = forms.PasswordInput(attrs=text_attrs)
    elif widget_name == "hidden":
        widget = forms.HiddenInput(attrs=text_attrs)
    elif fmt == "email":
        widget = forms.EmailInput(attrs=text_attrs)
    elif fmt in ("uri", "url"):
        widget = forms.URLInput(attrs=text_attrs)
    else:
        widget = forms.TextInput(attrs=text_attrs)
    return JsonCharField(widget=widget, validators=validators, **common), note


def _style(widget: forms.Widget) -> None:
    """The portal's input classes (Tabler), so a template's form looks like every other form in Paved."""
    if isinstance(widget, forms.MultiWidget):
        for part in widget.widgets:
            _style(part)
        return
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple | forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    elif isinstance(widget, forms.HiddenInput):
        return
    else:
        css = "form-control"
    classes = str(widget.attrs.get("class", "")).split()
    if css not in classes:
        widget.attrs["class"] = " ".join([*classes, css])


class ParametersForm(forms.Form):
    """One page of a template's parameters. `notes` lists what the form draws more plainly than the template asks."""

    def __init__(
        self,
        page: FormPage,
        *,
        data: Mapping[str, Any] | None = None,
        initial: Mapping[str, Any] | None = None,
        field_validators: Mapping[str, Sequence[FieldValidator]] | None = None,
        picker_url: str | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data=data, initial=dict(initial) if initial is not None else None, prefix=prefix)
        self.page = page
        notes = list(page.notes)
        for name, prop in page.properties.items():
            built, note = build_field(name, prop, required=name in page.required, picker_url=picker_url)
            for extra in (field_validators or {}).get(name, ()):
                built.validators.append(extra)
            _style(built.widget)
            self.fields[name] = built
            if note:
                notes.append(note)
        self.notes = notes

    def json_values(self) -> dict[str, Any]:
        """The cleaned values as JSON types; optional fields left empty are absent, as Backstage leaves them."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in self.fields and not _is_empty(value, self.fields[name])
        }


def _is_empty(value: Any, field: forms.Field) -> bool:
    if isinstance(field, forms.BooleanField):
        return False
    return value is None or value == "" or value == [] or value == {}


def page_form(
    page: FormPage,
    *,
    data: Mapping[str, Any] | None = None,
    initial: Mapping[str, Any] | None = None,
    field_validators: Mapping[str, Sequence[FieldValidator]] | None = None,
    picker_url: str | None = None,
    prefix: str | None = None,
) -> ParametersForm:
    """The Django form of one page. `field_validators` adds checks per field name (they raise ValidationError);
    `picker_url` is where Owner/EntityPicker inputs ask for suggestions (without it they are plain text inputs)."""
    return ParametersForm(
        page, data=data, initial=initial, field_validators=field_validators, picker_url=picker_url, prefix=prefix
    )


# -- Validation -------------------------------------------------------------------------------------------------


def field_errors(page: FormPage, name: str, value: Any, *, extra_validator: FieldValidator | None = None) -> list[str]:
    """Messages for one field as it changes: the form field's checks, its JSON Schema, then `extra_validator`.

    `value` is what the browser sent: text, a list for checkboxes, and for a RepoUrlPicker either the
    `host?owner=o&repo=r` text or the `[host, owner, repo]` parts. `extra_validator` runs on the cleaned value
    only when everything else passed, and raises ValidationError (such as a catalog check for a taken name).
    """
    if name not in page.properties:
        return [f"{name!s:.100} is not a field of this form"]
    form_field, _ = build_field(name, page.properties[name], required=name in page.required)
    try:
        cleaned = form_field.clean(value)
    except ValidationError as error:
        return list(error.messages)
    if _is_empty(cleaned, form_field):
        return []
    single = {
        "type": "object",
        "properties": {name: page.properties[name]},
    }
    errors = _schema_errors(FormPage(page.title, page.description, single), {name: cleaned}).get(name, [])
    if errors:
        return errors
    if extra_validator is not None:
        try:
            extra_validator(cleaned)
        except ValidationError as error:
            return list(error.messages)
    return []


def field_value(page: FormPage, name: str, data: Mapping[str, Any], *, prefix: str | None = None) -> Any:
    """What the browser sent for one field, read as the form reads it: a list for checkboxes, the three parts of a
    RepoUrlPicker (`name_host`, `name_owner`, `name_repo`), text otherwise. None for a name the page does not have."""
    if name not in page.properties:
        return None
    bound = page_form(page, prefix=prefix)[name]
    return bound.field.widget.value_from_datadict(data, {}, bound.html_name)


def clean_parameters(pages: Sequence[FormPage], data: Mapping[str, Any]) -> CleanedParameters:
    """The submit: every page's form over the posted data, then the JSON Schema check of the JSON values."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for page in pages:
        form = page_form(page, data=data)
        if form.is_valid():
            values.update(form.json_values())
        else:
            for name, form_messages in form.errors.items():
                errors.setdefault(name, []).extend(str(message) for message in form_messages)
    if not errors:
        for name, schema_messages in validate_parameters(pages, values).items():
            errors.setdefault(name, []).extend(schema_messages)
    return CleanedParameters(values=values, errors=errors)


def answered_values(pages: Sequence[FormPage], data: Mapping[str, Any]) -> dict[str, Any]:
    """The values of every field answered validly so far, pages that still have errors included: what the form's
    live guard-rail notice judges while people are filling it in (the submit judges `clean_parameters` again)."""
    values: dict[str, Any] = {}
    for page in pages:
        form = page_form(page, data=data)
        form.is_valid()
        values.update(form.json_values())
    return values


def validate_parameters(pages: Sequence[FormPage], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """The full check of JSON values with jsonschema (Draft 7), page by page; messages by field name.

    Values that come straight from the API go through this too, so the bounds on strings and lists apply here.
    """
    errors: dict[str, list[str]] = {}
    bounds = _bounds_errors(pages, values)
    if bounds:
        return bounds
    for page in pages:
        for name, messages in _schema_errors(page, values).items():
            for message in messages:
                if message not in errors.setdefault(name, []):
                    errors[name].append(message)
    return errors


def _bounds_errors(pages: Sequence[FormPage], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Strings, lists and numbers beyond what a parameter may be, before jsonschema looks at them."""
    if len(values) > MAX_ITEMS:
        return {NON_FIELD: [f"At most {MAX_ITEMS} parameters are accepted"]}
    labels = {name: page.label(name) for page in pages for name in page.properties}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        label = labels.get(name) or f"{name!s:.100}"
        message = _bounds_message(label, value)
        if message:
            errors[str(name)] = [message]
    return errors


def _bounds_message(label: str, value: Any) -> str | None:
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_ITEMS * 10:
            return f"{label} is too large"
        if isinstance(item, str) and len(item) > MAX_STRING_LENGTH:
            return f"{label} must be at most {MAX_STRING_LENGTH} characters"
        if isinstance(item, float) and not math.isfinite(item):
            return f"{label} must be a finite number"
        if isinstance(item, list | tuple | Mapping):
            if len(item) > MAX_ITEMS:
                return f"{label} must have at most {MAX_ITEMS} items"
            if isinstance(item, Mapping):
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
    return None


def _strip_ui(schema: Any, *, in_properties: bool = False) -> Any:
    """The schema without `ui:*` keys (the names of properties are kept whatever they are)."""
    if isinstance(schema, Mapping):
        return {
            key: _strip_ui(value, in_properties=key in ("properties", "patternProperties") and not in_properties)
            for key, value in schema.items()
            if in_properties or not (isinstance(key, str) and key.startswith("ui:"))
        }
    if isinstance(schema, list):
        return [_strip_ui(item) for item in schema]
    return schema


def _schema_errors(page: FormPage, values: Mapping[str, Any]) -> dict[str, list[str]]:
    schema = _strip_ui(page.schema)
    schema.pop("title", None)
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(dict(values)):
        for name, message in _messages(page, error):
            bucket = errors.setdefault(name, [])
            if message not in bucket:
                bucket.append(message)
    return errors


def _messages(page: FormPage, error: SchemaValidationError) -> Iterable[tuple[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [p for p in required if isinstance(p, str) and p not in instance]
        if not path:
            return [(p, f"{page.label(p)} is required") for p in missing]
        return [(str(path[0]), f"{page.label(str(path[0]))}: {', '.join(missing)} is required")]
    if not path:
        return [(NON_FIELD, _readable(page.title, error))]
    name = str(path[0])
    label = page.label(name)
    if len(path) > 1 and isinstance(path[-1], int):
        label = f"{label} (item {path[-1] + 1})"
    elif len(path) > 1:
        label = f"{label} ({'.'.join(str(p) for p in path[1:])})"
    return [(name, _readable(label, error))]


def _readable(label: str, error: SchemaValidationError) -> str:
    rule, expected = error.validator, error.validator_value
    listed = expected if isinstance(expected, list) else [expected]
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"{label} must be {' or '.join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)}"
    if rule == "enum":
        return f"{label} must be one of: {', '.join(_choice_key(v) for v in listed)}"
    if rule == "const":
        return f"{label} must be {_choice_key(expected)}"
    if rule == "pattern":
        return f"{label} must match {expected}"
    if rule == "minLength":
        return f"{label} must be at least {expected} characters"
    if rule == "maxLength":
        return f"{label} must be at most {expected} characters"
    if rule == "minimum":
        return f"{label} must be at least {_number(expected)}"
    if rule == "maximum":
        return f"{label} must be at most {_number(expected)}"
    if rule == "exclusiveMinimum":
        return f"{label} must be greater than {_number(expected)}"
    if rule == "exclusiveMaximum":
        return f"{label} must be less than {_number(expected)}"
    if rule == "multipleOf":
        return f"{label} must be a multiple of {_number(expected)}"
    if rule == "minItems":
        return f"{label} must have at least {expected} items"
    if rule == "maxItems":
        return f"{label} must have at most {expected} items"
    if rule == "uniqueItems":
        return f"{label} must not repeat items"
    if rule == "format":
        return f"{label} must be a valid {expected}"
    return f"{label}: {error.message[:300]}"


# -- Guard rails ------------------------------------------------------------------------------------------------


def guardrails_triggered(guardrails: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The guard rails whose `if` holds for these parameter values, for the form to show before submit.

    A rule without `if` always applies. A rule whose condition cannot be evaluated yet (a parameter not filled in)
    is not shown; the run checks every rule again when it is created.
    """
    context = ExpressionContext(parameters=dict(values))
    triggered: list[dict[str, Any]] = []
    for index, rule in enumerate(guardrails):
        if not isinstance(rule, Mapping):
            continue
        condition = rule.get("if", True)
        try:
            holds = condition_true(condition, context=context, path=f"guardrails[{index}].if")
        except ExpressionError as error:
            logger.info("scaffolder.guardrail.preview_skipped", extra={"index": index, "code": error.code})
            continue
        if holds:
            triggered.append(dict(rule))
    return triggered
