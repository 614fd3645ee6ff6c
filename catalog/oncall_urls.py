"""On-call routes: pages under /catalog/oncall/ (included by catalog/urls.py, so names are `catalog:oncall_*`) and
the token-authenticated calendar feeds under /ical/ (namespace `oncall_ical`, exempt from the login middleware)."""

from __future__ import annotations

from django.urls import path

from catalog import oncall_views

urlpatterns = [
    path("", oncall_views.oncall_now, name="oncall_now"),
    path("card/<str:namespace>/<str:kind>/<str:name>/", oncall_views.oncall_card, name="oncall_card"),
    path("schedules/<str:namespace>/<str:name>/", oncall_views.oncall_schedule, name="oncall_schedule"),
    path("people/<str:namespace>/<str:name>/", oncall_views.oncall_person, name="oncall_person"),
    path("overrides/new/", oncall_views.override_create, name="override_create"),
    path("overrides/<int:override_id>/delete/", oncall_views.override_delete, name="override_delete"),
    path("feeds/new/", oncall_views.feed_create, name="feed_create"),
    path("feeds/<int:feed_id>/revoke/", oncall_views.feed_revoke, name="feed_revoke"),
]

ical_patterns = (
    [
        path("schedules/<str:token>.ics", oncall_views.ical_schedule, name="schedule"),
        path("people/<str:token>.ics", oncall_views.ical_person, name="person"),
    ],
    "oncall_ical",
)
