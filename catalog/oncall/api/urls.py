"""/api/oncall/ (mounted by portal/api_urls.py): who is on call, schedule timelines and coverage, overrides, people."""

from __future__ import annotations

from django.urls import path

from catalog.oncall.api import views

app_name = "oncall_api"

urlpatterns = [
    path("now", views.OnCallNowApi.as_view(), name="now"),
    path("schedules/<path:ref>/timeline", views.ScheduleTimelineApi.as_view(), name="schedule_timeline"),
    path("schedules/<path:ref>/coverage", views.ScheduleCoverageApi.as_view(), name="schedule_coverage"),
    path("overrides", views.OverridesApi.as_view(), name="overrides"),
    path("overrides/<int:override_id>", views.OverrideApi.as_view(), name="override"),
    path("users/<path:ref>", views.UserOnCallApi.as_view(), name="user"),
]
