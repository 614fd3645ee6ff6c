"""/api/scaffolder/v2/ (mounted by portal/api_urls.py): Backstage's scaffolder API."""

from __future__ import annotations

from django.urls import path

from scaffolder.api import views

app_name = "scaffolder_api"

urlpatterns = [
    path("actions", views.ActionsApi.as_view(), name="actions"),
    path(
        "templates/<str:namespace>/<str:kind>/<str:name>/parameter-schema",
        views.ParameterSchemaApi.as_view(),
        name="parameter_schema",
    ),
    path("dry-run", views.DryRunApi.as_view(), name="dry_run"),
    path("tasks", views.TasksApi.as_view(), name="tasks"),
    path("tasks/<uuid:task_id>", views.TaskApi.as_view(), name="task"),
    path("tasks/<uuid:task_id>/events", views.TaskEventsApi.as_view(), name="task_events"),
    path("tasks/<uuid:task_id>/eventstream", views.TaskEventStreamApi.as_view(), name="task_eventstream"),
    path("tasks/<uuid:task_id>/cancel", views.TaskCancelApi.as_view(), name="task_cancel"),
    path("tasks/<uuid:task_id>/retry", views.TaskRetryApi.as_view(), name="task_retry"),
    path("tasks/<uuid:task_id>/approve", views.TaskApproveApi.as_view(), name="task_approve"),
    path("tasks/<uuid:task_id>/reject", views.TaskRejectApi.as_view(), name="task_reject"),
]
