"""Every API under /api/: each app mounts its own urls; the schema and its docs page live here."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal.api import views

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api_me"),
    path("catalog/", include("catalog.api.urls")),
    path("oncall/", include("catalog.oncall.api.urls")),
    path("scaffolder/v2/", include("scaffolder.api.urls")),
    path("scorecards/", include("scorecards.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script from /api/docs/?script=, not inline (the CSP refuses that).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api_schema", template_name="portal/api_docs.html"),
        name="api_docs",
    ),
]
