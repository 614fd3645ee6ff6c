"""/api/scaffolder/v2/: Backstage's scaffolder API over Paved's runs. Actions, a template's parameter schema, tasks
(runs) created, listed, read, followed through their events (as a list after an event id, or as a stream of
Server-Sent Events), cancelled, retried, approved and rejected; and dry runs of a template, answered at once.

Each endpoint parses its input, calls one selector or service and renders Backstage's shape; errors use the portal's
(Backstage's) error body.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Final

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
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
    DRY_RUN_OUTPUT,
    EVENT_OUTPUT,
    PARAMETER_SCHEMA_OUTPUT,
    TASK_CREATED_OUTPUT,
    TASK_LIST_OUTPUT,
    TASK_OUTPUT,
    DecisionInputSerializer,
    DryRunInputSerializer,
    TaskInputSerializer,
    dry_run_json,
    event_json,
    event_stream_message,
    task_json,
)
from scaffolder.models import Run

TASK_LIST_LIMIT: Final = 100
MAX_VALUES_SIZE: Final = 256 * 1024
MAX_EVENT_ID: Final = 2**63 - 1
EVENT_STREAM_SECONDS: Final = 30.0
EVENT_STREAM_POLL_SECONDS: Final = 0.5
EVENT_BATCH: Final = 500


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


def _template_by_ref(ref: str) -> Any:
    kind, _, rest = ref.partition(":") if ":" in ref else ("template", "", ref)
    namespace, _, name = rest.rpartition("/")
    if kind.lower() != "template" or not name:
        raise NotFoundError(f"There is no template {ref}; templateRef is like template:default/python-service.")
    return _template(namespace or "default", name)


def _checked_values(values: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(values)
    if "\\u0000" in text or len(text) > MAX_VALUES_SIZE:
        raise ApplicationError("values may not contain NUL characters or exceed 256 KiB.")
    return values


def _event_id(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 100):
        raise ApplicationError(f"{name} must be an event id (a whole number), found {raw[:100]!r}.")
    return min(int(raw), MAX_EVENT_ID)


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
        values = _checked_values(dict(serializer.validated_data["values"]))
        template = _template_by_ref(ref)
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
        after = _event_id(request.query_params.get("after", "0") or "0", "after")
        run = _task(request, task_id)
        step_ids = {step.pk: step.step_id for step in run.steps.all()}
        events = selectors.event_list(run=run, after_id=after)
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


class DryRunApi(APIView):
    """Dry-run a template now: render it with the same engine and actions as a task, publishing nothing and keeping
    nothing, and answer with its log, the files it rendered, its output and its steps (Backstage's dry-run).

    A template of the catalog is named by `templateRef` (any signed-in user); an inline Template entity with its files
    in `directoryContents` is for those who may register trusted locations, since nobody sanctioned it. The values
    are checked against the template's parameters first. A step that fails ends the log with the failure (still a
    200: the log is the answer); the run is stopped before its next step after PAVED_SCAFFOLDER_DRY_RUN_SECONDS.
    """

    @extend_schema(
        operation_id="scaffolder_v2_dry_run",
        request=DryRunInputSerializer,
        responses={200: DRY_RUN_OUTPUT, **error_responses(403, 404)},
    )
    def post(self, request: Request) -> Response:
        serializer = DryRunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        values = _checked_values(dict(data["values"]))
        contents: list[Any] | None = None
        if "templateRef" in data:
            template: dict[str, Any] = dict(_template_by_ref(str(data["templateRef"])).data)
        else:
            template = services.dry_run_template_check(template=data["template"], actor=request.user)
            text = json.dumps(template)
            if "\\u0000" in text or len(text) > MAX_VALUES_SIZE:
                raise ApplicationError("template may not contain NUL characters or exceed 256 KiB.")
            contents = list(data.get("directoryContents") or [])
        try:
            pages = forms.template_pages((template.get("spec") or {}).get("parameters"))
        except forms.TemplateSchemaError as error:
            raise services.DryRunInputError(
                f"template.spec.parameters: not a usable form: {error}",
                extra={"details": {"template.spec.parameters": [str(error)]}},
            ) from None
        errors = forms.validate_parameters(pages, values)
        if errors:
            details = {f"values.{name}": list(messages) for name, messages in errors.items()}
            problems = "; ".join(f"{path}: {'; '.join(messages)}" for path, messages in details.items())
            raise services.DryRunInputError(
                f"The values do not fit the template's parameters: {problems}", extra={"details": details}
            )
        result = services.run_dry_run(
            template=template, parameters=values, actor=request.user, directory_contents=contents
        )
        return Response(dry_run_json(result))


def _stream(*, run: Run, after: int, seconds: float, poll: float) -> Iterator[str]:
    """The run's events after `after` as Server-Sent Events, polling in autocommit (no transaction held open),
    until its completion event, until it is finished with nothing left to send, or for `seconds` at most."""
    step_ids = {step.pk: step.step_id for step in run.steps.all()}
    deadline = time.monotonic() + seconds
    yield f"retry: {int(poll * 1000) or 1}\n\n"
    while True:
        # The status is read before the events: a run's last events commit with its final status, so a run already
        # finished has nothing more to come once these are sent.
        finished = selectors.run_status(run_id=str(run.pk)) in (*Run.FINISHED, None)
        events = selectors.event_list(run=run, after_id=after, limit=EVENT_BATCH)
        for event in events:
            yield event_stream_message(event, step_ids)
            after = event.pk
            if event.type == event.Type.COMPLETION:
                return
        if finished and len(events) < EVENT_BATCH:
            yield ": the task has finished; nothing more will come\n\n"
            return
        if time.monotonic() >= deadline:
            yield f": the stream ends after {seconds:g} s; reconnect with Last-Event-ID to go on\n\n"
            return
        time.sleep(poll)


class TaskEventStreamApi(APIView):
    """A task's log as Server-Sent Events (`text/event-stream`), as Backstage's eventstream sends it: `event: log` or
    `event: completion`, `id:` the event id and `data:` the JSON of the events endpoint. It begins after `after` or
    the `Last-Event-ID` header (which wins: a reconnecting EventSource sends it), ends after the completion event or
    when the task has finished, and otherwise after PAVED_SCAFFOLDER_EVENTSTREAM_SECONDS (30) with a comment line, so
    the client reconnects and a web worker thread is never held for long."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # An EventSource asks for text/event-stream only; errors before the stream begins are still JSON bodies.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="scaffolder_v2_tasks_eventstream",
        parameters=[
            OpenApiParameter(
                "after", {"type": "integer", "minimum": 0}, description="Only events after this event id."
            ),
            OpenApiParameter(
                "Last-Event-ID",
                {"type": "string", "pattern": "^[0-9]{1,19}$"},
                location=OpenApiParameter.HEADER,
                description="The last event id a reconnecting client received; wins over after.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="Server-Sent Events: `event: log|completion`, `id: <event id>`, `data: <event JSON>`.",
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, task_id: uuid.UUID) -> StreamingHttpResponse:
        after = _event_id(request.query_params.get("after", "0") or "0", "after")
        last_event_id = request.headers.get("Last-Event-ID")
        if last_event_id:
            after = _event_id(last_event_id.strip(), "Last-Event-ID")
        run = _task(request, task_id)
        seconds = float(getattr(settings, "PAVED_SCAFFOLDER_EVENTSTREAM_SECONDS", EVENT_STREAM_SECONDS))
        poll = float(getattr(settings, "PAVED_SCAFFOLDER_EVENTSTREAM_POLL_SECONDS", EVENT_STREAM_POLL_SECONDS))
        response = StreamingHttpResponse(
            _stream(run=run, after=after, seconds=seconds, poll=poll), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        # Proxies such as nginx would otherwise hold the events back in their buffers.
        response["X-Accel-Buffering"] = "no"
        return response
