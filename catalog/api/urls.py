"""/api/catalog/: Backstage's catalog paths (no trailing slashes, as Backstage), plus Paved's /kinds."""

from __future__ import annotations

from django.urls import path

from catalog.api import views

app_name = "catalog_api"

urlpatterns = [
    path("entities", views.EntitiesApi.as_view(), name="entities"),
    path("entities/by-query", views.EntitiesByQueryApi.as_view(), name="entities_by_query"),
    path("entities/by-refs", views.EntitiesByRefsApi.as_view(), name="entities_by_refs"),
    path("entities/by-name/<str:kind>/<str:namespace>/<str:name>", views.EntityByNameApi.as_view(), name="by_name"),
    path("entities/by-uid/<str:uid>", views.EntityByUidApi.as_view(), name="by_uid"),
    path("entity-facets", views.EntityFacetsApi.as_view(), name="entity_facets"),
    path("locations", views.LocationsApi.as_view(), name="locations"),
    path(
        "locations/by-entity/<str:kind>/<str:namespace>/<str:name>",
        views.LocationByEntityApi.as_view(),
        name="location_by_entity",
    ),
    path("locations/<str:location_id>", views.LocationApi.as_view(), name="location"),
    path("refresh", views.RefreshApi.as_view(), name="refresh"),
    path("validate-entity", views.ValidateEntityApi.as_view(), name="validate_entity"),
    path("kinds", views.KindsApi.as_view(), name="kinds"),
    path("kinds/<str:kind>/schema", views.KindSchemaApi.as_view(), name="kind_schema"),
]
