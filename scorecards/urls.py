"""/scorecards/ (mounted by portal/urls.py); the README badge lives at /badge/ (portal/urls.py, `badge_patterns`)."""

from __future__ import annotations

from django.urls import path, re_path

from scorecards import views

app_name = "scorecards"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("exemptions/", views.exemption_queue, name="exemption_queue"),
    path("exemptions/<uuid:exemption_id>/approve/", views.exemption_approve, name="exemption_approve"),
    path("exemptions/<uuid:exemption_id>/reject/", views.exemption_reject, name="exemption_reject"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign_detail"),
    path("teams/<str:namespace>/<str:name>/", views.team, name="team"),
    path("entities/<str:namespace>/<str:kind>/<str:name>/", views.entity, name="entity"),
    path(
        "entities/<str:namespace>/<str:kind>/<str:name>/exemptions/new/",
        views.exemption_request,
        name="exemption_request",
    ),
    path("<str:namespace>/<str:name>/", views.scorecard_detail, name="scorecard_detail"),
]

# `/badge/<entity ref>/<scorecard name>.svg`: the ref may hold a slash (`component:default/checkout`).
badge_patterns = [
    re_path(r"^(?P<ref>[^\x00]{1,300}?)/(?P<scorecard>[^/\x00]{1,300})\.svg$", views.badge, name="badge"),
]
