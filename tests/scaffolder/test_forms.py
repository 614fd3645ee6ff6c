from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from scaffolder.forms import (
    MAX_STRING_LENGTH,
    FormPage,
    TemplateSchemaError,
    clean_parameters,
    field_errors,
    field_value,
    guardrails_triggered,
    page_form,
    template_pages,
    validate_parameters,
)

SERVICE_PAGE = {
    "title": "Service",
    "description": "What the service is called and who owns it",
    "required": ["name", "owner", "memoryMiB"],
    "properties": {
        "name": {
            "title": "Name",
            "type": "string",
            "pattern": "^[a-z0-9-]+$",
            "minLength": 2,
            "maxLength": 40,
            "ui:autofocus": True,
            "ui:help": "Lowercase letters, digits and dashes",
            "ui:placeholder": "checkout",
        },
        "description": {"title": "Description", "type": "string", "ui:widget": "textarea"},
        "owner": {
            "title": "Owner",
            "type": "string",
            "ui:field": "OwnerPicker",
            "ui:options": {"catalogFilter": {"kind": ["Group", "User"]}},
        },
        "memoryMiB": {"title": "Memory (MiB)", "type": "integer", "default": 512, "minimum": 128, "maximum": 16384},
        "ratio": {"title": "Ratio", "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "public": {"title": "Public", "type": "boolean", "default": False},
        "language": {
            "title": "Language",
            "type": "string",
            "enum": ["python", "go"],
            "enumNames": ["Python", "Go"],
            "default": "python",
        },
        "tier": {"title": "Tier", "type": "integer", "enum": [1, 2, 3], "ui:widget": "radio"},
        "features": {
            "title": "Features",
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["db", "queue", "cache"]},
        },
        "contact": {"title": "Contact", "type": "string", "format": "email"},
        "docs": {"title": "Docs", "type": "string", "format": "uri"},
        "token": {"title": "Token", "type": "string", "ui:widget": "password"},
    },
}

REPO_PAGE = {
    "title": "Repository",
    "required": ["repoUrl"],
    "properties": {
        "repoUrl": {
            "title": "Repository location",
            "type": "string",
            "ui:field": "RepoUrlPicker",
            "ui:options": {"allowedHosts": ["local", "github.com"]},
        },
        "system": {
            "title": "System",
            "type": "string",
            "ui:field": "EntityPicker",
            "ui:options": {"allowedKinds": ["System"], "defaultKind": "System"},
        },
    },
}


@pytest.fixture
def page() -> FormPage:
    return template_pages([SERVICE_PAGE])[0]


@pytest.fixture
def repo_page() -> FormPage:
    return template_pages([REPO_PAGE])[0]


def valid_data(**overrides):
    data = {"name": "checkout", "owner": "group:default/payments", "memoryMiB": "1024", "language": "python"}
    data.update(overrides)
    return data


def test_template_pages_reads_a_list_of_pages_and_a_single_page():
    pages = template_pages([SERVICE_PAGE, REPO_PAGE])
    assert [p.title for p in pages] == ["Service", "Repository"]
    assert pages[0].description == "What the service is called and who owns it"
    assert pages[0].required == {"name", "owner", "memoryMiB"}
    single = template_pages(REPO_PAGE)
    assert len(single) == 1
    assert single[0].schema is REPO_PAGE
    assert template_pages({"properties": {}})[0].title == "Step 1"


def test_template_pages_refuses_a_schema_that_is_not_one():
    with pytest.raises(TemplateSchemaError, match=r"parameters\[0\]"):
        template_pages([{"properties": {"x": {"type": "nonsense"}}}])
    with pytest.raises(TemplateSchemaError):
        template_pages(["not a page"])
    with pytest.raises(TemplateSchemaError, match=r"parameters\[0\]: .*'\(unclosed' is not a 'regex'"):
        template_pages([{"properties": {"name": {"type": "string", "pattern": "(unclosed"}}}])


def test_template_pages_notes_conditional_fields():
    page = template_pages(
        [{"properties": {"a": {"type": "string"}}, "dependencies": {"a": {"oneOf": [{"required": ["a"]}]}}}]
    )[0]
    assert any("dependencies" in note for note in page.notes)


def test_each_type_and_widget_maps_to_a_django_field(page):
    form = page_form(page)
    fields = form.fields
    assert isinstance(fields["name"], forms.CharField)
    assert isinstance(fields["name"].widget, forms.TextInput)
    assert isinstance(fields["description"].widget, forms.Textarea)
    assert isinstance(fields["token"].widget, forms.PasswordInput)
    assert isinstance(fields["memoryMiB"], forms.IntegerField)
    assert isinstance(fields["ratio"], forms.FloatField)
    assert isinstance(fields["public"], forms.BooleanField)
    assert isinstance(fields["language"], forms.ChoiceField)
    assert isinstance(fields["language"].widget, forms.Select)
    assert isinstance(fields["tier"].widget, forms.RadioSelect)
    assert isinstance(fields["features"], forms.MultipleChoiceField)
    assert isinstance(fields["features"].widget, forms.CheckboxSelectMultiple)
    assert isinstance(fields["contact"].widget, forms.EmailInput)


def test_labels_help_placeholder_autofocus_and_defaults(page):
    form = page_form(page)
    name = form.fields["name"]
    assert name.label == "Name"
    assert name.help_text == "Lowercase letters, digits and dashes"
    assert name.widget.attrs["placeholder"] == "checkout"
    assert name.widget.attrs["autofocus"] is True
    assert name.widget.attrs["maxlength"] == "40"
    assert form.fields["memoryMiB"].initial == 512
    assert form.fields["memoryMiB"].widget.attrs["min"] == "128"
    assert form.fields["public"].initial is False
    assert form.fields["language"].initial == "python"


def test_description_is_the_help_when_there_is_no_ui_help():
    page = template_pages({"properties": {"x": {"type": "string", "description": "Some <b>help</b>"}}})[0]
    assert "&lt;b&gt;" in str(page_form(page)["x"].help_text)


def test_enum_names_are_the_labels_and_values_keep_their_types(page):
    form = page_form(page)
    assert ("python", "Python") in form.fields["language"].choices
    assert ("1", "1") in form.fields["tier"].choices
    bound = page_form(page, data=valid_data(tier="2"))
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["tier"] == 2
    assert not page_form(page, data=valid_data(language="rust")).is_valid()


def test_required_fields_are_required_but_a_required_boolean_may_be_false():
    page = template_pages(
        {
            "required": ["name", "agree"],
            "properties": {"name": {"title": "Name", "type": "string"}, "agree": {"title": "Agree", "type": "boolean"}},
        }
    )[0]
    form = page_form(page, data={})
    assert not form.is_valid()
    assert "name" in form.errors
    assert "agree" not in form.errors
    form = page_form(page, data={"name": "x"})
    assert form.is_valid()
    assert form.json_values() == {"name": "x", "agree": False}


def test_a_boolean_drawn_as_radio_buttons_is_yes_or_no():
    page = template_pages(
        {
            "required": ["ha"],
            "properties": {"ha": {"title": "HA", "type": "boolean", "ui:widget": "radio", "default": True}},
        }
    )[0]
    form = page_form(page)
    assert isinstance(form.fields["ha"].widget, forms.RadioSelect)
    assert form.fields["ha"].initial == "true"
    bound = page_form(page, data={"ha": "false"})
    assert bound.is_valid()
    assert bound.json_values() == {"ha": False}
    assert field_errors(page, "ha", "") == ["HA is required"]


def test_pattern_and_length_messages_name_the_field(page):
    assert field_errors(page, "name", "Check Out") == ["Name must match ^[a-z0-9-]+$"]
    assert field_errors(page, "name", "a") == ["Name must be at least 2 characters"]
    assert field_errors(page, "name", "a" * 41) == ["Name must be at most 40 characters"]
    assert field_errors(page, "name", "") == ["Name is required"]
    assert field_errors(page, "name", "checkout") == []


def test_number_bounds_messages(page):
    assert field_errors(page, "memoryMiB", "20000") == ["Memory (MiB) must be at most 16384"]
    assert field_errors(page, "memoryMiB", "64") == ["Memory (MiB) must be at least 128"]
    assert field_errors(page, "memoryMiB", "lots") == ["Memory (MiB) must be a whole number"]
    assert field_errors(page, "ratio", "0") == ["Ratio must be greater than 0"]
    assert field_errors(page, "ratio", "1") == ["Ratio must be less than 1"]
    assert field_errors(page, "ratio", "0.5") == []


def test_email_and_uri_formats(page):
    assert field_errors(page, "contact", "not-an-email") == ["Contact must be an email address"]
    assert field_errors(page, "contact", "team@example.com") == []
    assert field_errors(page, "docs", "javascript:alert(1)") == ["Docs must be a URL (https://…)"]
    assert field_errors(page, "docs", "https://docs.example.com/x") == []


def test_field_errors_runs_the_extra_validator_last(page):
    def taken(value):
        if value == "checkout":
            raise ValidationError("A component with this name already exists")

    assert field_errors(page, "name", "checkout", extra_validator=taken) == [
        "A component with this name already exists"
    ]
    assert field_errors(page, "name", "Bad Name", extra_validator=taken) == ["Name must match ^[a-z0-9-]+$"]
    assert field_errors(page, "name", "orders", extra_validator=taken) == []
    assert field_errors(page, "nope", "x") == ["nope is not a field of this form"]


def test_field_value_reads_what_the_browser_sent(page, repo_page):
    data = QueryDict(mutable=True)
    data.setlist("features", ["db", "queue"])
    data.update({"repoUrl_host": "local", "repoUrl_owner": "payments", "repoUrl_repo": "a&repo=b", "name": "x"})
    assert field_value(page, "features", data) == ["db", "queue"]
    assert field_value(page, "name", data) == "x"
    assert field_value(page, "missing", data) is None
    parts = field_value(repo_page, "repoUrl", data)
    assert parts == ["local", "payments", "a&repo=b"]
    assert "the repository may contain only" in field_errors(repo_page, "repoUrl", parts)[0]


def test_field_validators_join_the_form(page):
    def no_admin(value):
        if value == "admin":
            raise ValidationError("Name is reserved")

    form = page_form(page, data=valid_data(name="admin"), field_validators={"name": [no_admin]})
    assert not form.is_valid()
    assert form.errors["name"] == ["Name is reserved"]


def test_owner_picker_asks_the_server_with_the_catalog_filter(page):
    form = page_form(page, picker_url="/scaffolder/picker/")
    attrs = form.fields["owner"].widget.attrs
    assert attrs["data-picker"] == "owner"
    assert attrs["data-catalog-filter"] == '[{"kind": ["Group", "User"]}]'
    url = urlsplit(attrs["hx-get"])
    assert url.path == "/scaffolder/picker/"
    assert parse_qs(url.query) == {"field": ["owner"], "picker": ["owner"], "filter.kind": ["Group", "User"]}
    html = str(form["owner"])
    assert 'list="id_owner-suggestions"' in html
    assert 'hx-target="#id_owner-suggestions"' in html
    assert '<datalist id="id_owner-suggestions"></datalist>' in html
    assert "<option" not in html


def test_entity_picker_carries_allowed_and_default_kinds(repo_page):
    form = page_form(repo_page, picker_url="/p")
    attrs = form.fields["system"].widget.attrs
    assert attrs["data-picker"] == "entity"
    assert attrs["data-allowed-kinds"] == "System"
    assert attrs["data-default-kind"] == "System"
    assert parse_qs(urlsplit(attrs["hx-get"]).query)["kind"] == ["System"]
    assert field_errors(repo_page, "system", "group:default/x") == ["System must be one of the kinds System"]
    assert field_errors(repo_page, "system", "system:default/shop") == []


def test_pickers_without_a_url_are_plain_text_inputs(page):
    attrs = page_form(page).fields["owner"].widget.attrs
    assert "hx-get" not in attrs
    assert field_errors(page, "owner", "not a ref!") == [
        "Owner must be an entity reference like group:default/payments"
    ]


def test_repo_url_picker_cleans_to_backstages_form(repo_page):
    form = page_form(repo_page, data={"repoUrl_host": "local", "repoUrl_owner": "payments", "repoUrl_repo": "checkout"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["repoUrl"] == "local?owner=payments&repo=checkout"
    assert field_errors(repo_page, "repoUrl", ["github.com", "acme", "web.site"]) == []
    assert field_errors(repo_page, "repoUrl", "local?owner=payments&repo=checkout") == []


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (["local", "../x", "checkout"], "the owner may contain only"),
        (["local", "payments", "a&repo=b"], "the repository may contain only"),
        (["local", "payments", ".."], "the repository may contain only"),
        (["local", "pay/ments", "checkout"], "the owner may contain only"),
        (["evil.example", "payments", "checkout"], "the host must be one of local, github.com"),
        (["local", "", "checkout"], "the owner is required"),
    ],
)
def test_repo_url_picker_refuses_hostile_parts(repo_page, parts, message):
    errors = field_errors(repo_page, "repoUrl", parts)
    assert len(errors) == 1
    assert message in errors[0]


def test_repo_url_picker_draws_the_allowed_hosts(repo_page):
    html = str(page_form(repo_page)["repoUrl"])
    assert '<option value="local">local</option>' in html
    assert '<option value="github.com">github.com</option>' in html
    assert 'name="repoUrl_owner"' in html
    assert 'name="repoUrl_repo"' in html


def test_unknown_ui_field_is_a_text_field_with_a_note():
    page = template_pages({"properties": {"x": {"title": "X", "type": "string", "ui:field": "FancyPicker"}}})[0]
    form = page_form(page)
    assert isinstance(form.fields["x"].widget, forms.TextInput)
    assert any("FancyPicker" in note for note in form.notes)


def test_validate_parameters_reports_readable_jsonschema_messages(page):
    errors = validate_parameters([page], {"name": "Bad Name", "memoryMiB": 20000, "tier": 7, "public": "yes"})
    assert errors["name"] == ["Name must match ^[a-z0-9-]+$"]
    assert errors["memoryMiB"] == ["Memory (MiB) must be at most 16384"]
    assert errors["owner"] == ["Owner is required"]
    assert errors["tier"] == ["Tier must be one of: 1, 2, 3"]
    assert errors["public"] == ["Public must be true or false"]
    assert validate_parameters([page], {"name": "ok", "owner": "group:default/a", "memoryMiB": 512}) == {}


def test_validate_parameters_checks_every_page(page, repo_page):
    errors = validate_parameters([page, repo_page], {"name": "ok", "owner": "group:x", "memoryMiB": 512})
    assert errors == {"repoUrl": ["Repository location is required"]}


def test_validate_parameters_applies_what_the_form_does_not_draw():
    page = template_pages(
        {
            "properties": {"db": {"type": "boolean"}, "size": {"type": "integer"}},
            "dependencies": {"db": {"required": ["size"]}},
        }
    )[0]
    assert validate_parameters([page], {"db": True}) == {"size": ["size is required"]}


def test_clean_parameters_returns_json_types(page, repo_page):
    data = valid_data(tier="3", features=["db", "cache"], public="on", ratio="0.25", description="")
    data.update({"repoUrl_host": "local", "repoUrl_owner": "payments", "repoUrl_repo": "checkout"})
    result = clean_parameters([page, repo_page], data)
    assert result.errors == {}
    assert result.values == {
        "name": "checkout",
        "owner": "group:default/payments",
        "memoryMiB": 1024,
        "ratio": 0.25,
        "public": True,
        "language": "python",
        "tier": 3,
        "features": ["db", "cache"],
        "repoUrl": "local?owner=payments&repo=checkout",
    }
    assert type(result.values["memoryMiB"]) is int


def test_clean_parameters_collects_form_errors(page):
    result = clean_parameters([page], valid_data(memoryMiB="99999", name="Bad Name"))
    assert result.errors == {
        "name": ["Name must match ^[a-z0-9-]+$"],
        "memoryMiB": ["Memory (MiB) must be at most 16384"],
    }


@pytest.mark.parametrize("hostile", ["{{ 7*7 }}", "${{ parameters.name }}", "{% raw %}x", "<script>alert(1)</script>"])
def test_hostile_values_are_kept_literal(hostile):
    page = template_pages({"properties": {"text": {"title": "Text", "type": "string"}}})[0]
    result = clean_parameters([page], {"text": hostile})
    assert result.errors == {}
    assert result.values == {"text": hostile}
    assert validate_parameters([page], {"text": hostile}) == {}


def test_oversized_values_are_refused(page):
    huge = "a" * (MAX_STRING_LENGTH + 1)
    assert field_errors(page, "description", huge) == [f"Description must be at most {MAX_STRING_LENGTH} characters"]
    assert validate_parameters([page], {"description": huge}) == {
        "description": [f"Description must be at most {MAX_STRING_LENGTH} characters"]
    }
    assert validate_parameters([page], {"features": ["db"] * 1001}) == {
        "features": ["Features must have at most 1000 items"]
    }
    assert field_errors(page, "features", ["db"] * 1001) == ["Features must have at most 1000 items"]


def test_non_finite_numbers_and_too_many_parameters_are_refused(page):
    assert validate_parameters([page], {"ratio": float("nan")}) == {"ratio": ["Ratio must be a finite number"]}
    assert field_errors(page, "ratio", "1e400") == ["Ratio must be a number"]
    assert list(validate_parameters([page], {f"p{i}": 1 for i in range(1001)})) == ["__all__"]


def test_choice_messages_name_the_field(page):
    assert field_errors(page, "language", "rust") == ["Language must be one of the choices offered"]
    assert field_errors(page, "features", ["db", "mainframe"]) == ["Features must be one of the choices offered"]


def test_initial_values_fill_the_form(page, repo_page):
    html = str(page_form(page, initial={"name": "orders", "tier": 2}))
    assert 'value="orders"' in html
    assert re.search(r'<input type="radio" name="tier" value="2" [^>]*\bchecked', html)
    html = str(page_form(repo_page, initial={"repoUrl": "github.com?owner=acme&repo=web"}))
    assert '<option value="github.com" selected>' in html
    assert 'value="acme"' in html


def test_guardrails_triggered_by_the_parameters():
    rails = [
        {
            "if": "${{ parameters.memoryMiB > 1024 }}",
            "approvers": "group:platform",
            "reason": "More than 1 GiB of memory needs platform sign-off",
        },
        {"if": "${{ parameters.tier == 1 }}", "approvers": "group:sre", "reason": "Tier 1 needs a schedule"},
    ]
    assert guardrails_triggered(rails, {"memoryMiB": 2048, "tier": 2}) == [rails[0]]
    assert guardrails_triggered(rails, {"memoryMiB": 512, "tier": 1}) == [rails[1]]
    assert guardrails_triggered(rails, {"memoryMiB": 512, "tier": 2}) == []


def test_guardrails_wait_for_missing_parameters_and_rules_without_if_always_apply():
    rails = [{"if": "${{ parameters.memoryMiB > 1024 }}"}, {"approvers": "group:platform"}]
    assert guardrails_triggered(rails, {}) == [rails[1]]


def test_guardrails_do_not_evaluate_parameter_values():
    rails = [{"if": "${{ parameters.name == '{{ 7*7 }}' }}"}]
    assert guardrails_triggered(rails, {"name": "{{ 7*7 }}"}) == rails
    assert guardrails_triggered(rails, {"name": "49"}) == []


def test_rendered_form_has_no_inline_script_or_style_and_escapes_template_text(page, repo_page):
    hostile = template_pages(
        {
            "properties": {
                "x": {"title": "<script>alert(1)</script>", "type": "string", "ui:help": "<i style='color:red'>hi</i>"}
            }
        }
    )[0]
    for each in (page, repo_page, hostile):
        html = str(page_form(each, picker_url="/p"))
        assert "<script" not in html
        tags = re.findall(r"<[^>]*>", html)
        assert not [tag for tag in tags if re.search(r"\s(style|on[a-z]+)=", tag)]
    html = str(page_form(hostile))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;i style=" in html
