from django.contrib import admin
from django.urls import include, path

from egressui import health
from policies.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("policies.api.urls")),
    path("", include("policies.urls")),
]
