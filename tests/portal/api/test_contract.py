"""The OpenAPI document served at /api/schema/ is a contract, and every operation in it is fuzzed to hold it.

Schemathesis reads the schema from the application and sends each operation schema-valid requests (which must be
accepted) and schema-invalid ones (which must be refused with a documented 4xx) through Django's WSGI handler,
authenticated with an administrator's API token, against the demo organisation (whose names the schema's examples
use, so that lookups reach their 200 answers). No answer may be a server error, carry an undocumented status code or
content type, or break its response schema.

Deterministic (derandomized, no example database) and bounded, so CI runs the same requests every time.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from catalog import demo
from catalog.models import Entity, Location, OnCallOverride
from tests.catalog.oncall.factories import OnCallOverrideFactory
from tests.portal.factories import AdminFactory, ApiTokenFactory

TOKEN = "pvd_contract-test-token"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

# Operations whose input obeys rules that JSON Schema cannot state: there a schema-valid request may still be
# refused with 400 (an InputError naming the parameter). Everywhere else a schema-valid request must succeed, or
# meet a documented 401/403/404/409/429. Keys are the paths as the schema writes them, templates included.
RULES_BEYOND_THE_SCHEMA = {
    ("GET", "/api/catalog/entities"): "filter, fields and order are a small language; after is a signed token",
    ("GET", "/api/catalog/entities/by-query"): "filter, fields and orderField are a small language; cursor is signed",
    ("POST", "/api/catalog/entities/by-refs"): "filter and fields are a small language",
    ("GET", "/api/catalog/entity-facets"): "filter is a small language; a facet must not be blank",
    ("POST", "/api/catalog/locations"): "a target must be a path under the allowed roots or an http(s) URL",
    ("POST", "/api/catalog/refresh"): "entityRef must be an entity ref",
    ("POST", "/api/catalog/validate-entity"): "400 with {errors} is the answer for an invalid entity",
    ("GET", "/api/oncall/now"): "entity must be an entity ref with an escalation policy that loads",
    ("GET", "/api/oncall/schedules/{ref}/timeline"): "ref must be a schedule ref; to after from, at most 93 days",
    ("GET", "/api/oncall/schedules/{ref}/coverage"): "ref must be a schedule ref of a schedule that loads",
    ("POST", "/api/oncall/overrides"): "refs must name a schedule and a user; the override must end in the future",
    ("PATCH", "/api/oncall/overrides/{override_id}"): "userRef must name a user; the override must end in the future",
    ("GET", "/api/oncall/users/{ref}"): "ref must be a user ref",
    ("POST", "/api/scaffolder/v2/tasks"): "values must fit the parameters of the template templateRef names",
    ("GET", "/api/scorecards/exemptions"): "entityRef and scorecardRef must be entity refs",
    ("POST", "/api/scorecards/exemptions"): "refs name a service, a scorecard and one of its checks; expiry capped",
    ("GET", "/api/scorecards/campaigns"): "scorecardRef and ownerRef must be entity refs",
    ("POST", "/api/scorecards/campaigns"): "a known scorecard and one of its levels or checks; a filter that parses",
    ("PATCH", "/api/scorecards/campaigns/{slug}"): "a level or checks of the scorecard; a filter that parses",
    ("GET", "/api/scorecards/history"): "refs must be entity refs; with at, scorecardRef is required; from before to",
    ("POST", "/api/scaffolder/v2/dry-run"): "values must fit the template's parameters; file paths must stay inside",
}

RESPONSE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ACCEPTED_WHEN_VALID = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

config = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-method": method,
                "include-path": path,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED_WHEN_VALID, "400"]}},
            }
            for method, path in RULES_BEYOND_THE_SCHEMA
        ]
    }
)
application = WSGIHandler()
schema = schemathesis.openapi.from_wsgi(reverse("api_schema") + "?format=json", application, config=config)


@pytest.fixture
def in_process_requests():
    """Keep the test's database connection (and its transaction) across requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, in_process_requests, settings):
    """The demo organisation, an upcoming override in it, and an administrator's token. A task's event stream ends
    at once (it would otherwise follow a task for 30 s)."""
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_SECONDS = 0.05
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_POLL_SECONDS = 0.01
    demo.load(stdout=io.StringIO())
    OnCallOverrideFactory.create(
        schedule_ref="schedule:default/payments-primary",
        user_ref="user:default/priya.raman",
        start=timezone.now() + timedelta(days=1),
        end=timezone.now() + timedelta(days=2),
    )
    ApiTokenFactory.create(user=AdminFactory(username="root"), raw=TOKEN)


def test_the_schema_covers_every_api_operation():
    operations = {(op.method.upper(), op.path) for op in (result.ok() for result in schema.get_all_operations())}
    assert len(operations) == 52
    assert set(RULES_BEYOND_THE_SCHEMA) <= operations


@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case, seeded):
    # Among the odd headers generated for an operation, one may be named `Host`: that names the server, which the
    # transport sets, not an input of the API (Django refuses a malformed one with 400 before any view runs).
    if case.headers:
        case.headers = {name: value for name, value in case.headers.items() if name.lower() != "host"}
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_resources_named_by_generated_ids_answer_as_documented(seeded):
    """Generated uids, location ids and override ids never name a row; these calls use real ones, then delete them."""
    entity = Entity.objects.get(ref="component:default/payments-service")
    location = Location.objects.get()
    override = OnCallOverride.objects.get()
    # Operations named as the schema names them (path template and parameters), for Schemathesis to call.
    calls = [
        ("GET", "/api/catalog/entities/by-uid/{uid}", {"uid": str(entity.uid)}, None, 200),
        ("GET", "/api/catalog/locations/{location_id}", {"location_id": str(location.pk)}, None, 200),
        ("PATCH", "/api/oncall/overrides/{override_id}", {"override_id": override.pk}, {"reason": "Swapped"}, 200),
        ("DELETE", "/api/oncall/overrides/{override_id}", {"override_id": override.pk}, None, 204),
        ("DELETE", "/api/catalog/entities/by-uid/{uid}", {"uid": str(entity.uid)}, None, 204),
        ("DELETE", "/api/catalog/locations/{location_id}", {"location_id": str(location.pk)}, None, 204),
        ("GET", "/api/catalog/locations/{location_id}", {"location_id": str(location.pk)}, None, 404),
    ]
    for method, path, path_parameters, body, status in calls:
        operation = schema[path][method]
        case = operation.Case(path_parameters=path_parameters, **({"body": body} if body is not None else {}))
        response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=RESPONSE_CHECKS)
        assert response.status_code == status, (method, path, response.text)
