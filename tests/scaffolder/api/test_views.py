from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from scaffolder.models import Run
from tests.catalog.factories import ingest, new_location, org_docs
from tests.scaffolder.factories import ApprovalFactory, EventFactory, RunFactory, StepFactory
from tests.scaffolder.test_views import template_doc

pytestmark = pytest.mark.django_db

BASE = "/api/scaffolder/v2"


@pytest.fixture
def catalog() -> None:
    result = ingest([*org_docs(), template_doc()], location=new_location(trusted=True))
    assert not result.errors, result.errors


def test_actions_list_their_schemas(auth_client: Client) -> None:
    actions = auth_client.get(f"{BASE}/actions").json()
    by_id = {action["id"]: action for action in actions}
    assert "debug:log" in by_id
    assert set(by_id["debug:log"]["schema"]) == {"input", "output"}


def test_parameter_schema_has_one_step_per_page(catalog, auth_client: Client) -> None:
    body = auth_client.get(f"{BASE}/templates/default/template/python-service/parameter-schema").json()
    assert body["title"] == "Python service"
    assert [step["title"] for step in body["steps"]] == ["About", "Resources"]
    assert "name" in body["steps"][0]["schema"]["properties"]


def test_parameter_schema_of_an_unknown_template_is_404_in_backstages_error_body(auth_client: Client) -> None:
    response = auth_client.get(f"{BASE}/templates/default/template/nope/parameter-schema")
    assert response.status_code == 404
    assert response.json()["error"]["name"] == "NotFoundError"


def test_create_a_task_and_read_it(catalog, auth_client: Client, user) -> None:
    created = auth_client.post(
        f"{BASE}/tasks",
        {"templateRef": "template:default/python-service", "values": {"name": "new-one", "memoryMiB": 512}},
        content_type="application/json",
    )
    assert created.status_code == 201
    task_id = created.json()["id"]
    task = auth_client.get(f"{BASE}/tasks/{task_id}").json()
    assert task["id"] == task_id
    assert task["status"] == "open"
    assert task["spec"]["parameters"] == {"name": "new-one", "memoryMiB": 512}
    assert task["spec"]["templateInfo"]["entityRef"] == "template:default/python-service"
    listing = auth_client.get(f"{BASE}/tasks").json()
    assert listing["totalTasks"] == 1
    assert listing["tasks"][0]["id"] == task_id


def test_create_refuses_values_that_do_not_fit(catalog, auth_client: Client) -> None:
    response = auth_client.post(
        f"{BASE}/tasks",
        {"templateRef": "template:default/python-service", "values": {"name": "Not Valid"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not Run.objects.exists()


def test_create_of_an_unknown_template_is_404(auth_client: Client) -> None:
    response = auth_client.post(
        f"{BASE}/tasks", {"templateRef": "template:default/nope", "values": {}}, content_type="application/json"
    )
    assert response.status_code == 404


def test_events_in_backstages_shape_and_after(auth_client: Client, user) -> None:
    run = RunFactory(created_by=user)
    step = StepFactory(run=run, step_id="fetch")
    first = EventFactory(run=run, step=step, body="one")
    EventFactory(run=run, type="completion", body="done")
    events = auth_client.get(f"{BASE}/tasks/{run.pk}/events").json()
    assert events[0] == {
        "id": first.pk,
        "taskId": str(run.pk),
        "body": {"message": "one", "stepId": "fetch"},
        "type": "log",
        "createdAt": events[0]["createdAt"],
    }
    assert events[1]["type"] == "completion"
    later = auth_client.get(f"{BASE}/tasks/{run.pk}/events", {"after": first.pk}).json()
    assert [event["body"]["message"] for event in later] == ["done"]
    assert auth_client.get(f"{BASE}/tasks/{run.pk}/events", {"after": "x"}).status_code == 400


def test_someone_elses_task_is_404(auth_client: Client) -> None:
    assert auth_client.get(f"{BASE}/tasks/{RunFactory().pk}").status_code == 404


def test_cancel_a_task(auth_client: Client, user) -> None:
    run = RunFactory(created_by=user)
    response = auth_client.post(f"{BASE}/tasks/{run.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_retry_of_a_completed_task_is_a_conflict(auth_client: Client, user) -> None:
    run = RunFactory(created_by=user, status=Run.Status.PROCESSING)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, finished_at=run.created_at)
    assert auth_client.post(f"{BASE}/tasks/{run.pk}/retry").status_code == 409


def test_approve_by_an_approver(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    response = bob.post(f"{BASE}/tasks/{run.pk}/approve", {"comment": "ok"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "open"


def test_the_requester_may_not_approve_their_own_task(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments", run__created_by=User.objects.get(username="bob")).run
    response = bob.post(f"{BASE}/tasks/{run.pk}/approve", {"comment": "mine"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["name"] == "NotAllowedError"


def test_reject_by_an_approver(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    response = bob.post(f"{BASE}/tasks/{run.pk}/reject", {"comment": "no"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
