"""On-call routes: pages under /catalog/oncall/ (included by catalog/urls.py, so names are `catalog:oncall_*`) and
the token-authenticated calendar feeds under /ical/ (namespace `oncall_ical`, exempt from the login middleware)."""

from __future__ import annotations

from django.urls import path

from catalog.oncall import views

urlpatterns = [
    path("", views.oncall_now, name="oncall_now"),
    path("card/<str:namespace>/<str:kind>/<str:name>/", views.oncall_card, name="oncall_card"),
    path("schedules/<str:namespace>/<str:name>/", views.oncall_schedule, name="oncall_schedule"),
    path("policies/<str:namespace>/<str:name>/", views.oncall_policy, name="oncall_policy"),
    path("people/<str:namespace>/<str:name>/", views.oncall_person, name="oncall_person"),
    path("overrides/new/", views.override_create, name="override_create"),
    path("overrides/<int:override_id>/delete/", views.override_delete, name="override_delete"),
    path("feeds/new/", views.feed_create, name="feed_create"),
    path("feeds/<int:feed_id>/revoke/", views.feed_revoke, name="feed_revoke"),
]

ical_patterns = (
    [
        path("schedules/<str:token>.ics", views.ical_schedule, name="schedule"),
        path("people/<str:token>.ics", views.ical_person, name="person"),
    ],
    "oncall_ical",
)
