"""/api/scaffolder/v2/: Backstage's scaffolder API over Paved's runs. Actions, a template's parameter schema, tasks
(runs) created, listed, read, followed through their events, cancelled, retried, approved and rejected.

Each endpoint parses its input, calls one selector or service and renders Backstage's shape; errors use the portal's
(Backstage's) error body.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.schema import error_responses
from portal.exceptions import ApplicationError, NotFoundError
from scaffolder import forms, selectors, services
from scaffolder.actions.registry import action_list
from scaffolder.api.serializers import (
    ACTION_OUTPUT,
    EVENT_OUTPUT,
    PARAMETER_SCHEMA_OUTPUT,
    TASK_CREATED_OUTPUT,
    TASK_LIST_OUTPUT,
    TASK_OUTPUT,
    DecisionInputSerializer,
    TaskInputSerializer,
    event_json,
    task_json,
)
from scaffolder.models import Run

TASK_LIST_LIMIT: Final = 100
MAX_VALUES_SIZE: Final = 256 * 1024
MAX_EVENT_ID: Final = 2**63 - 1


def _template(namespace: str, name: str) -> Any:
    template = selectors.template_get(namespace=namespace, name=name)
    if template is None:
        raise NotFoundError(f"There is no template template:{namespace}/{name} in the catalog.")
    return template


def _pages(template: Any) -> list[forms.FormPage]:
    try:
        return forms.template_pages((template.data.get("spec") or {}).get("parameters"))
    except forms.TemplateSchemaError as error:
        raise ApplicationError(f"The template's parameters are not a usable form: {error}") from None


def _task(request: Request, task_id: uuid.UUID) -> Run:
    run = selectors.run_get_for(run_id=str(task_id), user=request.user)
    if run is None:
        raise NotFoundError(f"There is no task {task_id}.")
    return run


class ActionsApi(APIView):
    """The actions templates may use, each with the JSON Schema of its input and output."""

    @extend_schema(responses={200: ACTION_OUTPUT})
    def get(self, request: Request) -> Response:
        actions = [
            {
                "id": action.id,
                "description": action.description,
                "schema": {"input": action.input_schema, "output": action.output_schema},
            }
            for action in sorted(action_list(), key=lambda action: action.id)
        ]
        return Response(actions)


class ParameterSchemaApi(APIView):
    """A template's parameter pages, as the form shows them."""

    @extend_schema(responses={200: PARAMETER_SCHEMA_OUTPUT, **error_responses(404)})
    def get(self, request: Request, namespace: str, kind: str, name: str) -> Response:
        if kind.lower() != "template":
            raise NotFoundError(f"There is no template {kind}:{namespace}/{name}; only kind template has a form.")
        template = _template(namespace, name)
        pages = _pages(template)
        return Response(
            {
                "title": template.title or template.name,
                "description": template.description,
                "steps": [
                    {"title": page.title, "description": page.description, "schema": dict(page.schema)}
                    for page in pages
                ],
            }
        )


class TasksApi(APIView):
    """Tasks (runs of templates): the caller's, newest first (every task for an administrator); create one."""

    @extend_schema(operation_id="scaffolder_v2_tasks_list", responses={200: TASK_LIST_OUTPUT})
    def get(self, request: Request) -> Response:
        runs = selectors.run_list_for(user=request.user)
        page = list(runs[:TASK_LIST_LIMIT])
        return Response({"tasks": [task_json(run) for run in page], "totalTasks": runs.count()})

    @extend_schema(request=TaskInputSerializer, responses={201: TASK_CREATED_OUTPUT, **error_responses(404)})
    def post(self, request: Request) -> Response:
        serializer = TaskInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ref = str(serializer.validated_data["templateRef"])
        values: dict[str, Any] = dict(serializer.validated_data["values"])
        text = json.dumps(values)
        if "\\u0000" in text or len(text) > MAX_VALUES_SIZE:
            raise ApplicationError("values may not contain NUL characters or exceed 256 KiB.")
        kind, _, rest = ref.partition(":") if ":" in ref else ("template", "", ref)
        namespace, _, name = rest.rpartition("/")
        if kind.lower() != "template" or not name:
            raise NotFoundError(f"There is no template {ref}; templateRef is like template:default/python-service.")
        template = _template(namespace or "default", name)
        errors = forms.validate_parameters(_pages(template), values)
        if errors:
            problems = "; ".join(message for messages in errors.values() for message in messages)
            raise ApplicationError(f"The values do not fit the template's parameters: {problems}")
        run = services.run_create(template=template.data, parameters=values, actor=request.user)
        return Response({"id": str(run.pk)}, status=status.HTTP_201_CREATED)


class TaskApi(APIView):
    """One task, when the caller asked for it, may approve it or is an administrator."""

    @extend_schema(responses={200: TASK_OUTPUT, **error_responses(404)})
    def get(self, request: Request, task_id: uuid.UUID) -> Response:
        return Response(task_json(_task(request, task_id)))


class TaskEventsApi(APIView):
    """A task's log in order; `after` gives only the events after that event id (what a follower has not seen)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after", {"type": "integer", "minimum": 0}, description="Only events after this event id.")
        ],
        responses={200: EVENT_OUTPUT, **error_responses(404)},
    )
    def get(self, request: Request, task_id: uuid.UUID) -> Response:
        raw = request.query_params.get("after", "0") or "0"
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 100):
            raise ApplicationError("after must be an event id (a whole number).")
        run = _task(request, task_id)
        step_ids = {step.pk: step.step_id for step in run.steps.all()}
        events = selectors.event_list(run=run, after_id=min(int(raw), MAX_EVENT_ID))
        return Response([event_json(event, step_ids) for event in events])


class TaskCancelApi(APIView):
    """Cancel a task (its requester or an administrator)."""

    @extend_schema(request=None, responses={200: TASK_OUTPUT, **error_responses(403, 404, 409)})
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        run = services.run_cancel(run=_task(request, task_id), actor=request.user)
        return Response(task_json(run))


class TaskRetryApi(APIView):
    """Retry a failed or cancelled task from its first unfinished step (its requester or an administrator)."""

    @extend_schema(request=None, responses={200: TASK_OUTPUT, **error_responses(403, 404, 409)})
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        run = services.run_retry(run=_task(request, task_id), actor=request.user)
        return Response(task_json(run))


class TaskApproveApi(APIView):
    """Approve a task awaiting approval (its approvers and administrators, never its requester)."""

    @extend_schema(request=DecisionInputSerializer, responses={200: TASK_OUTPUT, **error_responses(403, 404, 409)})
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = str(serializer.validated_data["comment"])
        run = services.run_approve(run=_task(request, task_id), actor=request.user, comment=comment)
        return Response(task_json(run))


class TaskRejectApi(APIView):
    """Reject a task awaiting approval (its approvers and administrators, never its requester): it ends cancelled."""

    @extend_schema(request=DecisionInputSerializer, responses={200: TASK_OUTPUT, **error_responses(403, 404, 409)})
    def post(self, request: Request, task_id: uuid.UUID) -> Response:
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = str(serializer.validated_data["comment"])
        run = services.run_reject(run=_task(request, task_id), actor=request.user, comment=comment)
        return Response(task_json(run))
