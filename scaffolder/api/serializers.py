"""Shapes of /api/scaffolder/v2/, as Backstage's scaffolder answers them, and the JSON of runs, their events and dry
runs."""

from __future__ import annotations

import base64
import json
from typing import Any, Final

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from scaffolder.models import Event, Run
from scaffolder.services import DRY_RUN_MAX_FILES, DryRunResult

ACTION_OUTPUT = inline_serializer(
    "ScaffolderAction",
    {
        "id": serializers.CharField(),
        "description": serializers.CharField(),
        "schema": inline_serializer(
            "ScaffolderActionSchema", {"input": serializers.DictField(), "output": serializers.DictField()}
        ),
    },
    many=True,
)

PARAMETER_SCHEMA_OUTPUT = inline_serializer(
    "ScaffolderParameterSchema",
    {
        "title": serializers.CharField(),
        "description": serializers.CharField(),
        "steps": inline_serializer(
            "ScaffolderParameterStep",
            {
                "title": serializers.CharField(),
                "description": serializers.CharField(),
                "schema": serializers.DictField(),
            },
            many=True,
        ),
    },
)

_TASK_FIELDS: Final = {
    "id": serializers.UUIDField(),
    "spec": inline_serializer(
        "ScaffolderTaskSpec",
        {
            "templateInfo": inline_serializer(
                "ScaffolderTemplateInfo", {"entityRef": serializers.CharField(), "version": serializers.CharField()}
            ),
            "parameters": serializers.DictField(),
            "steps": serializers.ListField(child=serializers.DictField()),
            "output": serializers.DictField(),
        },
    ),
    "status": serializers.ChoiceField(choices=Run.Status.values),
    "createdAt": serializers.DateTimeField(),
    "lastHeartbeatAt": serializers.DateTimeField(allow_null=True),
    "createdBy": serializers.CharField(),
}

TASK_OUTPUT = inline_serializer("ScaffolderTask", _TASK_FIELDS)
TASK_LIST_OUTPUT = inline_serializer(
    "ScaffolderTaskList",
    {
        "tasks": inline_serializer("ScaffolderTaskItem", _TASK_FIELDS, many=True),
        "totalTasks": serializers.IntegerField(),
    },
)
TASK_CREATED_OUTPUT = inline_serializer("ScaffolderTaskCreated", {"id": serializers.UUIDField()})

EVENT_OUTPUT = inline_serializer(
    "ScaffolderTaskEvent",
    {
        "id": serializers.IntegerField(),
        "taskId": serializers.UUIDField(),
        "body": inline_serializer(
            "ScaffolderTaskEventBody",
            {
                "message": serializers.CharField(),
                "stepId": serializers.CharField(required=False),
                "status": serializers.CharField(required=False),
            },
        ),
        "type": serializers.ChoiceField(choices=["log", "completion"]),
        "createdAt": serializers.DateTimeField(),
    },
    many=True,
)


_LOG_BODY: Final[dict[str, serializers.Field[Any, Any, Any, Any]]] = {
    "message": serializers.CharField(),
    "stepId": serializers.CharField(required=False),
    "status": serializers.CharField(required=False),
}

DRY_RUN_OUTPUT = inline_serializer(
    "ScaffolderDryRunResult",
    {
        "log": inline_serializer(
            "ScaffolderDryRunLogEntry",
            {"body": inline_serializer("ScaffolderDryRunLogBody", _LOG_BODY)},
            many=True,
        ),
        "directoryContents": inline_serializer(
            "ScaffolderDryRunFile",
            {
                "path": serializers.CharField(),
                "base64Content": serializers.CharField(allow_blank=True),
                "executable": serializers.BooleanField(),
            },
            many=True,
        ),
        "output": serializers.DictField(),
        "steps": inline_serializer(
            "ScaffolderDryRunStep",
            {"id": serializers.CharField(), "name": serializers.CharField(), "action": serializers.CharField()},
            many=True,
        ),
    },
)


class TaskInputSerializer(serializers.Serializer[Any]):
    templateRef = serializers.CharField(max_length=512, help_text="template:default/python-service")
    values = serializers.DictField(required=False, default=dict)


class DryRunInputSerializer(serializers.Serializer[Any]):
    """Backstage's dry-run body, `{template, values, secrets?, directoryContents}`, or Paved's `{templateRef, values}`
    for a template of the catalog."""

    templateRef = serializers.CharField(
        max_length=512, required=False, help_text="A template of the catalog: template:default/python-service"
    )
    template = serializers.DictField(
        required=False,
        help_text="An inline Template entity (scaffolder.backstage.io/v1beta3); administrators only.",
    )
    values = serializers.DictField(required=False, default=dict)
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=10_000),
        required=False,
        default=dict,
        help_text="Accepted as Backstage does; Paved passes no secrets to actions.",
    )
    directoryContents = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=DRY_RUN_MAX_FILES,
        help_text="The inline template's files: [{path, base64Content, executable?}], paths relative to it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("templateRef" in attrs) == ("template" in attrs):
            raise serializers.ValidationError(
                {"template": "Give either template (an inline Template entity) or templateRef, not both or neither."}
            )
        if "templateRef" in attrs and "directoryContents" in attrs:
            raise serializers.ValidationError(
                {"directoryContents": "Files come with an inline template; a templateRef template has its own."}
            )
        return attrs


class DecisionInputSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def task_json(run: Run) -> dict[str, Any]:
    return {
        "id": str(run.pk),
        "spec": {
            "templateInfo": {"entityRef": run.template_ref, "version": run.template_version},
            "parameters": run.parameters,
            "steps": [step for step in (run.spec or {}).get("steps") or [] if isinstance(step, dict)],
            "output": (run.spec or {}).get("output") if isinstance((run.spec or {}).get("output"), dict) else {},
        },
        "status": run.status,
        "createdAt": _iso(run.created_at),
        "lastHeartbeatAt": _iso(run.heartbeat_at),
        "createdBy": run.user_ref or (run.created_by.get_username() if run.created_by else ""),
    }


def event_json(event: Event, step_ids: dict[int, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"message": event.body}
    if event.step_id is not None and event.step_id in step_ids:
        body["stepId"] = step_ids[event.step_id]
    if event.type in (Event.Type.STATUS, Event.Type.ERROR, Event.Type.COMPLETION):
        body["status"] = event.type
    return {
        "id": event.pk,
        "taskId": str(event.run_id),
        "body": body,
        "type": "completion" if event.type == Event.Type.COMPLETION else "log",
        "createdAt": _iso(event.created_at),
    }


def dry_run_json(result: DryRunResult) -> dict[str, Any]:
    """Backstage's dry-run result: the log (bodies as the events endpoint gives them), the files, output, steps."""
    return {
        "log": [{"body": event_json(event, result.step_ids)["body"]} for event in result.events],
        "directoryContents": [
            {
                "path": file.path,
                "base64Content": base64.b64encode(file.content).decode("ascii"),
                "executable": file.executable,
            }
            for file in result.files
        ],
        "output": result.output,
        "steps": result.steps,
    }


def event_stream_message(event: Event, step_ids: dict[int, str]) -> str:
    """One Server-Sent Event: `event:` log or completion, `id:` the event id, `data:` the events endpoint's JSON."""
    data = event_json(event, step_ids)
    return f"event: {data['type']}\nid: {event.pk}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
