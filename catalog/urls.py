"""The catalog's pages, mounted at /catalog/. Location routes come before the entity pattern, which would match them."""

from __future__ import annotations

from django.urls import include, path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.entity_list, name="entity_list"),
    path("search/", views.search, name="search"),
    path("oncall/", include("catalog.oncall.urls")),
    path("locations/", views.location_list, name="location_list"),
    path("locations/preview/", views.location_preview, name="location_preview"),
    path("locations/register/", views.location_create, name="location_create"),
    path("locations/<uuid:location_id>/", views.location_detail, name="location_detail"),
    path("locations/<uuid:location_id>/refresh/", views.location_refresh, name="location_refresh"),
    path("locations/<uuid:location_id>/delete/", views.location_delete, name="location_delete"),
    path("locations/<uuid:location_id>/trust/", views.location_trust, name="location_trust"),
    path("<str:namespace>/<str:kind>/<str:name>/", views.entity_detail, name="entity_detail"),
    path("<str:namespace>/<str:kind>/<str:name>/dependencies/", views.entity_dependencies, name="entity_dependencies"),
    path("<str:namespace>/<str:kind>/<str:name>/delete/", views.entity_delete, name="entity_delete"),
]
