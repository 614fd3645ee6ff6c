"""/api/scorecards/ (mounted by portal/api_urls.py): exemptions, campaigns and history. Scorecards themselves and
results (`scorecards`, `results/by-entity/<kind>/<namespace>/<name>`) come with the evaluation."""

from __future__ import annotations

from django.urls import path

from scorecards.api import views

app_name = "scorecards_api"

urlpatterns = [
    path("scorecards", views.ScorecardsApi.as_view(), name="scorecards"),
    path("scorecards/<str:namespace>/<str:name>", views.ScorecardApi.as_view(), name="scorecard"),
    path(
        "results/by-entity/<str:kind>/<str:namespace>/<str:name>",
        views.EntityResultsApi.as_view(),
        name="results_by_entity",
    ),
    path("exemptions", views.ExemptionsApi.as_view(), name="exemptions"),
    path("exemptions/<uuid:exemption_id>", views.ExemptionApi.as_view(), name="exemption"),
    path("exemptions/<uuid:exemption_id>/approve", views.ExemptionApproveApi.as_view(), name="exemption_approve"),
    path("exemptions/<uuid:exemption_id>/reject", views.ExemptionRejectApi.as_view(), name="exemption_reject"),
    path("exemptions/<uuid:exemption_id>/revoke", views.ExemptionRevokeApi.as_view(), name="exemption_revoke"),
    path("campaigns", views.CampaignsApi.as_view(), name="campaigns"),
    path("campaigns/<slug:slug>", views.CampaignApi.as_view(), name="campaign"),
    path("history", views.HistoryApi.as_view(), name="history"),
]
