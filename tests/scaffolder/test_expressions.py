from __future__ import annotations

import math
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaffolder.expressions import (
    MAX_EACH_ITEMS,
    MAX_TEMPLATE_LENGTH,
    ExpressionContext,
    ExpressionError,
    FilterError,
    condition_true,
    engine,
    expand_each,
    is_truthy,
    parse_entity_ref,
    parse_repo_url,
    pick,
    project_slug,
    render_value,
)

CONTEXT = ExpressionContext(
    parameters={
        "name": "checkout",
        "memoryMiB": 2048,
        "ratio": 0.5,
        "public": False,
        "tags": ["python", "payments"],
        "links": {"docs": "https://docs.example.com"},
        "repoUrl": "local?owner=payments&repo=checkout",
        "owner": "group:default/payments",
        "values": "the parameter called values",
        "empty": "",
        "nothing": None,
    },
    step_outputs={"publish": {"remoteUrl": "https://git.example.com/payments/checkout", "repoContentsUrl": "x"}},
    user_entity={"kind": "User", "metadata": {"name": "alice"}, "spec": {"profile": {"email": "alice@example.com"}}},
    user_ref="user:default/alice",
)


def render(value, **parameters):
    context = CONTEXT if not parameters else ExpressionContext(parameters={**CONTEXT.parameters, **parameters})
    return render_value(value, context=context)


def failure(value, **parameters) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        render(value, **parameters)
    return caught.value


# Plain values and native types


@pytest.mark.parametrize(
    "value",
    ["plain text", "", "{{ 7*7 }}", "{% for x in y %}{{ x }}{% endfor %}", "{# comment #}", "$ {{ x }}", 42, 1.5, True],
)
def test_render_value_returns_values_without_expressions_unchanged(value):
    assert render(value) == value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${{ parameters.name }}", "checkout"),
        ("${{ parameters.memoryMiB }}", 2048),
        ("${{ parameters.ratio }}", 0.5),
        ("${{ parameters.public }}", False),
        ("${{ parameters.tags }}", ["python", "payments"]),
        ("${{ parameters.links }}", {"docs": "https://docs.example.com"}),
        ("${{ parameters.nothing }}", None),
        ("${{ parameters.empty }}", ""),
        ("${{ parameters.memoryMiB * 2 }}", 4096),
        ("${{ parameters.tags[1] }}", "payments"),
        ("${{ parameters.tags | length }}", 2),
        ("${{ parameters.tags.length }}", 2),
        ("${{ {'a': [1, 2], 'b': true} }}", {"a": [1, 2], "b": True}),
        ("${{ parameters.name ~ '-' ~ parameters.memoryMiB ~ parameters.missing }}", "checkout-2048"),
    ],
)
def test_a_string_that_is_one_expression_yields_the_native_value(template, expected):
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("service ${{ parameters.name }}", "service checkout"),
        ("${{ parameters.name }}-${{ parameters.memoryMiB }}", "checkout-2048"),
        (" ${{ parameters.name }}", " checkout"),
        ("public: ${{ parameters.public }}", "public: false"),
        ("ratio ${{ parameters.ratio }} of ${{ 4 / 2 }}", "ratio 0.5 of 2"),
        ("tags ${{ parameters.tags }}", 'tags ["python","payments"]'),
        ("links ${{ parameters.links }}", 'links {"docs":"https://docs.example.com"}'),
        ("[${{ parameters.nothing }}]", "[]"),
        ("line one\n${{ parameters.name }}\n", "line one\ncheckout\n"),
    ],
)
def test_a_string_with_more_than_an_expression_yields_text(template, expected):
    assert render(template) == expected


def test_render_value_walks_objects_and_lists_and_leaves_keys_alone():
    template = {
        "${{ parameters.name }}": "${{ parameters.name }}",
        "values": {"tags": ["${{ parameters.tags[0] }}", 3, None], "size": "${{ parameters.memoryMiB }}"},
    }

    assert render(template) == {
        "${{ parameters.name }}": "checkout",
        "values": {"tags": ["python", 3, None], "size": 2048},
    }


def test_render_value_returns_fresh_data_not_the_parameters_themselves():
    rendered = render("${{ parameters.tags }}")
    rendered.append("changed")

    assert CONTEXT.parameters["tags"] == ["python", "payments"]


def test_step_outputs_are_read_with_brackets_or_dots():
    assert render("${{ steps['publish'].output.remoteUrl }}") == "https://git.example.com/payments/checkout"
    assert render("${{ steps.publish.output['repoContentsUrl'] }}") == "x"


def test_user_entity_and_ref_are_available():
    assert render("${{ user.entity.metadata.name }} <${{ user.entity.spec.profile.email }}>") == (
        "alice <alice@example.com>"
    )
    assert render("${{ user.ref }}") == "user:default/alice"


def test_without_a_signed_in_entity_user_entity_is_undefined():
    assert render_value("${{ user.entity.metadata.name }}", context=ExpressionContext()) is None


def test_the_attributes_of_an_object_are_its_keys_not_python_methods():
    assert render("${{ parameters.values }}") == "the parameter called values"
    assert render("${{ parameters.links.items }}") is None


# Missing values behave as Backstage's undefined


def test_a_missing_value_renders_empty_and_chains():
    assert render("${{ parameters.missing }}") is None
    assert render("${{ parameters.missing.deeper.still }}") is None
    assert render("a${{ parameters.missing }}b") == "ab"
    assert render("${{ parameters.missing | default('fallback') }}") == "fallback"


def test_an_undefined_result_leaves_its_key_out_of_the_object_and_is_none_in_a_list():
    rendered = render({"token": "${{ parameters.missing }}", "name": "${{ parameters.missing }}", "keep": 1})
    assert rendered == {"keep": 1}
    assert render(["${{ parameters.missing }}", "x"]) == [None, "x"]


def test_computing_with_a_missing_value_fails_with_the_undefined_code():
    error = failure("${{ parameters.missing > 1024 }}")
    assert error.code == "undefined"
    assert "missing" in error.message


def test_secrets_are_never_available_so_secret_expressions_are_undefined():
    assert render("${{ secrets.USER_OAUTH_TOKEN }}") is None
    assert render("Bearer ${{ secrets.token }}") == "Bearer "
    assert render({"token": "${{ secrets.token }}"}) == {}


# Step `if` and guard rails


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (True, True),
        (False, False),
        ("${{ parameters.memoryMiB > 1024 }}", True),
        ("${{ parameters.memoryMiB > 4096 }}", False),
        ("${{ parameters.memoryMiB >= 2048 and parameters.public == false }}", True),
        ("${{ parameters.public }}", False),
        ("${{ not parameters.public }}", True),
        ("${{ parameters.name }}", True),
        ("${{ parameters.empty }}", False),
        ("${{ parameters.nothing }}", False),
        ("${{ parameters.missing }}", False),
        ("${{ 'payments' in parameters.tags }}", True),
        ("${{ parameters.tags | length == 0 }}", False),
    ],
)
def test_condition_true_renders_then_applies_javascript_truthiness(condition, expected):
    assert condition_true(condition, context=CONTEXT) is expected


def test_the_guard_rail_compares_numbers_as_numbers_not_as_text():
    guardrail = "${{ parameters.memoryMiB > 1024 }}"
    assert condition_true(guardrail, context=ExpressionContext(parameters={"memoryMiB": 512})) is False
    assert condition_true(guardrail, context=ExpressionContext(parameters={"memoryMiB": 10000})) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        (math.nan, False),
        ("", False),
        ("false", True),
        ("0", True),
        ([], True),
        ({}, True),
        (1, True),
        (-1.5, True),
    ],
)
def test_is_truthy_follows_javascript(value, expected):
    assert is_truthy(value) is expected


def test_a_failing_condition_names_where_it_is():
    with pytest.raises(ExpressionError) as caught:
        condition_true("${{ parameters.name > 3 }}", context=CONTEXT, path="spec.guardrails[0].if")
    assert caught.value.path == "spec.guardrails[0].if"
    assert str(caught.value).startswith("spec.guardrails[0].if: ")


# Steps with `each`


def test_a_step_without_each_runs_once_in_the_given_context():
    assert expand_each({"id": "log", "action": "debug:log"}, context=CONTEXT) == [CONTEXT]


def test_each_over_a_list_gives_string_keys_and_the_items():
    step = {
        "id": "log",
        "each": "${{ parameters.tags }}",
        "input": {"message": "tag ${{ each.key }}: ${{ each.value }}"},
    }

    contexts = expand_each(step, context=CONTEXT)

    assert [context.each for context in contexts] == [
        {"key": "0", "value": "python"},
        {"key": "1", "value": "payments"},
    ]
    assert [render_value(step["input"], context=context) for context in contexts] == [
        {"message": "tag 0: python"},
        {"message": "tag 1: payments"},
    ]


def test_each_over_an_object_gives_its_keys_and_values():
    contexts = expand_each({"each": "${{ parameters.links }}"}, context=CONTEXT)

    assert [render_value("${{ each }}", context=context) for context in contexts] == [
        {"key": "docs", "value": "https://docs.example.com"}
    ]


def test_each_over_a_literal_list_of_objects():
    step = {"each": [{"name": "a"}, {"name": "${{ parameters.name }}"}]}

    contexts = expand_each(step, context=CONTEXT)

    assert [render_value("${{ each.value.name }}", context=context) for context in contexts] == ["a", "checkout"]


def test_each_over_an_empty_list_runs_no_iteration():
    assert expand_each({"each": []}, context=CONTEXT) == []


@pytest.mark.parametrize("each", ["${{ parameters.name }}", "${{ parameters.missing }}", "${{ parameters.memoryMiB }}"])
def test_each_must_be_a_list_or_an_object(each):
    with pytest.raises(ExpressionError) as caught:
        expand_each({"each": each}, context=CONTEXT, path="steps[2]")
    assert caught.value.path == "steps[2].each"
    assert "each must be a list or an object" in caught.value.message


def test_each_is_bounded():
    items = list(range(MAX_EACH_ITEMS + 1))
    with pytest.raises(ExpressionError) as caught:
        expand_each({"each": "${{ parameters.items }}"}, context=ExpressionContext(parameters={"items": items}))
    assert caught.value.code == "too_large"


# Filters


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("github.com?owner=o&repo=r", {"host": "github.com", "owner": "o", "repo": "r"}),
        ("local?owner=payments&repo=checkout", {"host": "local", "owner": "payments", "repo": "checkout"}),
        ("GitHub.example.com:8443?repo=r&owner=o", {"host": "github.example.com:8443", "owner": "o", "repo": "r"}),
        (
            "dev.azure.com?organization=org&project=p&repo=r",
            {"host": "dev.azure.com", "organization": "org", "project": "p", "repo": "r"},
        ),
        (
            "bitbucket.org?workspace=w&project=p&repo=r",
            {"host": "bitbucket.org", "workspace": "w", "project": "p", "repo": "r"},
        ),
        ("gitlab.com?project=12345", {"host": "gitlab.com", "project": "12345"}),
        ("github.com?owner=o&repo=r&repo=second", {"host": "github.com", "owner": "o", "repo": "r"}),
        ("github.com?owner=o&repo=../../x", {"host": "github.com", "owner": "o", "repo": "../../x"}),
    ],
)
def test_parse_repo_url_reads_the_parts_backstage_reads(url, expected):
    assert parse_repo_url(url).as_dict() == expected
    assert render("${{ parameters.repoUrl | parseRepoUrl }}", repoUrl=url) == expected


@pytest.mark.parametrize(
    "url", ["", "   ", "github.com", "github.com?owner=o", "github.com?owner=o&repo=", "?repo=r", "bad host?repo=r", 7]
)
def test_parse_repo_url_refuses_urls_without_host_or_repo(url):
    with pytest.raises(FilterError):
        parse_repo_url(url)
    error = failure("${{ parameters.repoUrl | parseRepoUrl }}", repoUrl=url)
    assert error.code == "invalid"
    assert "repo URL" in error.message


def test_parse_repo_url_pipes_into_pick():
    assert render("${{ parameters.repoUrl | parseRepoUrl | pick('owner') }}") == "payments"
    assert render("${{ (parameters.repoUrl | parseRepoUrl).host }}") == "local"


def test_project_slug_is_owner_slash_repo():
    assert project_slug("github.com?owner=o&repo=r") == "o/r"
    assert render("${{ parameters.repoUrl | projectSlug }}") == "payments/checkout"


def test_project_slug_needs_an_owner():
    with pytest.raises(FilterError, match="owner"):
        project_slug("gitlab.com?project=12345")


@pytest.mark.parametrize(
    ("ref", "options", "expected"),
    [
        ("group:default/payments", {}, ("group", "default", "payments")),
        ("group:payments", {}, ("group", "default", "payments")),
        ("Group:Team/Payments", {}, ("Group", "Team", "Payments")),
        ("payments", {"default_kind": "group"}, ("group", "default", "payments")),
        ("ns/payments", {"default_kind": "group", "default_namespace": "other"}, ("group", "ns", "payments")),
        ("payments", {"default_kind": "group", "default_namespace": "other"}, ("group", "other", "payments")),
        ("component:ns/a:b", {}, ("component", "ns", "a:b")),
        ({"kind": "User", "name": "alice"}, {}, ("User", "default", "alice")),
    ],
)
def test_parse_entity_ref_follows_backstage(ref, options, expected):
    assert parse_entity_ref(ref, **options) == dict(zip(("kind", "namespace", "name"), expected, strict=True))


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "must not be empty"),
        (None, "must not be empty"),
        ("payments", "missing or empty kind"),
        ("group:", "was not on the form"),
        (":payments", "was not on the form"),
        ("group:/payments", "was not on the form"),
        ({"kind": "Group"}, "missing or empty name"),
        (5, "must be a text or an object"),
    ],
)
def test_parse_entity_ref_refuses_what_backstage_refuses(ref, message):
    with pytest.raises(FilterError, match=message):
        parse_entity_ref(ref)


def test_parse_entity_ref_filter_takes_backstage_options_object_or_keywords():
    assert render("${{ parameters.owner | parseEntityRef }}") == {
        "kind": "group",
        "namespace": "default",
        "name": "payments",
    }
    backstage = "${{ parameters.team | parseEntityRef({ defaultKind: 'group', defaultNamespace: 'another' }) }}"
    assert render(backstage, team="payments") == {"kind": "group", "namespace": "another", "name": "payments"}
    keywords = "${{ parameters.team | parseEntityRef(defaultKind='group') | pick('kind') }}"
    assert render(keywords, team="payments") == "group"
    assert failure("${{ parameters.team | parseEntityRef }}", team="payments").code == "invalid"


def test_pick_takes_a_property_by_dotted_path():
    entity = {"metadata": {"name": "alice", "tags": ["a", "b"]}}
    assert pick(entity, "metadata.name") == "alice"
    assert pick(entity, "metadata.tags.1") == "b"
    assert pick(entity, "metadata.missing") is None
    assert pick(entity, "metadata.name.deeper") is None
    assert pick(["x"], 0) == "x"
    assert render("${{ parameters.owner | parseEntityRef | pick('name') }}") == "payments"
    with pytest.raises(FilterError):
        pick(entity, "")


def test_dump_writes_json_as_javascript_does():
    assert render("${{ parameters.links | dump }}") == '{"docs":"https://docs.example.com"}'
    assert render("${{ parameters.tags | join(', ') }}") == "python, payments"
    assert render("${{ parameters.name | replace('check', 'pay') | upper }}") == "PAYOUT"


def test_filters_outside_the_list_are_not_available():
    assert failure("${{ parameters.name | format }}").code == "syntax"
    assert failure("${{ parameters.name | attr('upper') }}").code == "syntax"


# Hostile input


@pytest.mark.parametrize(
    "hostile",
    [
        "${{ 7*7 }}",
        "{{ 7*7 }}",
        "${{ secrets.x }}",
        "{% for x in range(10) %}x{% endfor %}",
        "${{ ''.__class__.__mro__ }}",
        "../../x",
        "${{",
        "}}",
        "\0{% raw %}",
    ],
)
def test_a_parameter_value_is_data_and_never_evaluated(hostile):
    assert render("${{ parameters.p }}", p=hostile) == hostile
    assert render("value: ${{ parameters.p }}!", p=hostile) == f"value: {hostile}!"
    assert render({"nested": ["${{ parameters.p | trim }}"]}, p=hostile) == {"nested": [hostile.strip()]}
    assert render("${{ { 'kept': parameters.p } }}", p=hostile) == {"kept": hostile}


def test_the_result_of_a_step_is_data_too():
    context = ExpressionContext(step_outputs={"fetch": {"name": "${{ parameters.secret }}"}}, parameters={"secret": 1})
    assert render_value("${{ steps.fetch.output.name }}", context=context) == "${{ parameters.secret }}"


def test_jinja_block_and_comment_syntax_stays_literal_beside_an_expression():
    template = "{% if true %}{{ 7*7 }}{# note #}{% endif %} ${{ parameters.name }}"
    assert render(template) == "{% if true %}{{ 7*7 }}{# note #}{% endif %} checkout"


@pytest.mark.parametrize(
    "template",
    [
        "${{ ''.__class__.__mro__ }}",
        "${{ parameters.__class__ }}",
        "${{ parameters['__class__'] }}",
        "${{ parameters.name.__class__.__base__.__subclasses__() }}",
        "${{ parameters.tags._private }}",
        "${{ user.entity.__init__.__globals__ }}",
        "${{ parameters.missing.__class__ }}",
        "${{ self.__init__ }}",
        "${{ '%s' % parameters.name }}",
    ],
)
def test_reaching_for_python_internals_is_refused(template):
    error = failure(template)
    assert error.code == "forbidden"


def test_a_key_starting_with_an_underscore_is_data():
    assert render("${{ parameters._internal }}", _internal="kept") == "kept"


@pytest.mark.parametrize(
    "template",
    [
        "${{ range(10) }}",
        "${{ lipsum(1000) }}",
        "${{ cycler(1) }}",
        "${{ dict(a=1) }}",
        "${{ namespace() }}",
        "${{ parameters.name.upper() }}",
        "${{ parameters.tags.append('x') }}",
        "${{ parameters.links.update({'a': 1}) }}",
    ],
)
def test_there_are_no_globals_and_no_methods(template):
    assert failure(template).code == "undefined"


@pytest.mark.parametrize(
    "template",
    [
        "${{ 'x' * 100000000 }}",
        "${{ 100000000 * 'x' }}",
        "${{ [1] * 100000000 }}",
        "${{ [[parameters.name] * 1000] * 1000 }}",
        "${{ 9 ** (9 ** 9) }}",
        "${{ (2 ** 4000) * (2 ** 4000) }}",
        "${{ parameters.name | center(100000000) }}",
        "${{ parameters.name | indent(100000000) }}",
        "${{ ('x' * 1000) | replace('x', 'y' * 1000) }}",
        "${{ (['x' * 1000] * 1000) | join('y' * 1000) }}",
        "${{ ['x'] | map('center', 100000000) | list }}",
        "${{ ('x' * 900000) + ('x' * 900000) }}",
        "${{ ('x' * 900000) ~ ('x' * 900000) }}",
        "${{ 'x' * 900000 }}${{ 'x' * 900000 }}",
        "a${{ 'x' * 600000 }} ${{ 'x' * 600000 }}b",
        "${{ " + "(" * 1000 + "1" + ")" * 1000 + " }}",
    ],
)
def test_huge_values_are_refused_before_they_are_built(template):
    assert failure(template).code == "too_large"


def test_a_template_string_is_bounded():
    template = "${{ parameters.name }}" + " " * MAX_TEMPLATE_LENGTH
    assert failure(template).code == "too_large"


def test_a_template_string_may_not_contain_nul():
    assert failure("\0{% for %}${{ parameters.name }}").code == "syntax"


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("${{ parameters.name", "syntax"),
        ("${{ parameters.name + }}", "syntax"),
        ("${{ 1 / 0 }}", "invalid"),
        ("${{ parameters.name - 1 }}", "invalid"),
        ("${{ self }}", "invalid"),
    ],
)
def test_errors_name_the_place_in_the_template_and_what_failed(template, code):
    steps = [{"id": "fetch", "input": {}}, {"id": "publish", "input": {"name": template, "other": "ok"}}]

    with pytest.raises(ExpressionError) as caught:
        render_value(steps, context=CONTEXT, path="steps")

    assert caught.value.code == code
    assert caught.value.path == "steps[1].input.name"
    assert caught.value.message.endswith(f", in `{template}`")
    assert str(caught.value) == f"steps[1].input.name: {caught.value.message}"


def test_paths_quote_keys_that_are_not_names():
    with pytest.raises(ExpressionError) as caught:
        render({"spec": {"ui:options": ["${{ 1 / 0 }}"]}})
    assert caught.value.path == 'spec["ui:options"][0]'


# Properties

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(st.text())
def test_any_parameter_string_round_trips_literally(text):
    context = ExpressionContext(parameters={"p": text})

    assert render_value("${{ parameters.p }}", context=context) == text
    assert render_value("<${{ parameters.p }}>", context=context) == f"<{text}>"
    assert render_value(["${{ parameters.p }}"], context=context) == [text]


@given(_JSON)
def test_any_parameter_value_comes_back_as_the_same_data(value):
    assert render_value("${{ parameters.p }}", context=ExpressionContext(parameters={"p": value})) == value


@given(st.text().filter(lambda text: "${{" not in text))
def test_strings_without_an_expression_start_are_returned_unchanged(text):
    assert render_value(text, context=CONTEXT) == text


_REF_PART = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(_REF_PART, _REF_PART, _REF_PART)
def test_parse_entity_ref_round_trips_full_references(kind, namespace, name):
    assert parse_entity_ref(f"{kind}:{namespace}/{name}") == {"kind": kind, "namespace": namespace, "name": name}


_QUERY_VALUE = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1)


@given(_QUERY_VALUE, _QUERY_VALUE)
def test_parse_repo_url_round_trips_owner_and_repo(owner, repo):
    spec = parse_repo_url(f"github.com?{urlencode({'owner': owner, 'repo': repo})}")
    assert (spec.host, spec.owner, spec.repo) == ("github.com", owner, repo)


def test_an_evaluation_that_runs_too_long_is_stopped(monkeypatch):
    monkeypatch.setattr(engine, "MAX_SECONDS", 0.05)

    error = failure("${{ ([0] * 400000) | map('abs') | map('abs') | map('string') | join | length }}")

    assert error.code == "too_large"
    assert "took longer" in error.message
