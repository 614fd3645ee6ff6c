from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from catalog.oncall import urls as oncall_urls
from portal import views
from scorecards import urls as scorecards_urls

portal_patterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("settings/tokens/<int:token_id>/delete/", views.token_delete, name="token_delete"),
]

urlpatterns = [
    path("catalog/", include("catalog.urls")),
    path("create/", include("scaffolder.urls")),
    path("scorecards/", include("scorecards.urls")),
    path("badge/", include((scorecards_urls.badge_patterns, "badges"))),
    path("ical/", include(oncall_urls.ical_patterns)),
    path("", include((portal_patterns, "portal"))),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
    path("api/", include("portal.api_urls")),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.error_400"
handler404 = "portal.views.error_404"
handler403 = "portal.views.error_403"
handler500 = "portal.views.error_500"
