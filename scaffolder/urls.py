"""The scaffolder's pages, mounted at /create/."""

from __future__ import annotations

from django.urls import path

from scaffolder import views

app_name = "scaffolder"

urlpatterns = [
    path("", views.template_list, name="template_list"),
    path("picker/", views.picker, name="picker"),
    path("runs/", views.run_list, name="run_list"),
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<uuid:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<uuid:run_id>/retry/", views.run_retry, name="run_retry"),
    path("runs/<uuid:run_id>/approve/", views.run_approve, name="run_approve"),
    path("runs/<uuid:run_id>/reject/", views.run_reject, name="run_reject"),
    path("templates/<str:namespace>/<str:name>/", views.template_form, name="template_form"),
    path("templates/<str:namespace>/<str:name>/check/", views.template_check, name="template_check"),
    path("templates/<str:namespace>/<str:name>/review/", views.template_review, name="template_review"),
    path("templates/<str:namespace>/<str:name>/create/", views.template_create, name="template_create"),
]
