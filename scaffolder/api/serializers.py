"""Shapes of /api/scaffolder/v2/, as Backstage's scaffolder answers them, and the JSON of runs and their events."""

from __future__ import annotations

from typing import Any, Final

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from scaffolder.models import Event, Run

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


class TaskInputSerializer(serializers.Serializer[Any]):
    templateRef = serializers.CharField(max_length=512, help_text="template:default/python-service")
    values = serializers.DictField(required=False, default=dict)


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
