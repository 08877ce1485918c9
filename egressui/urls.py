from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from egressui import health
from policies.metrics import metrics_view


def favicon(request):
    """Pages without an icon link (the admin) make browsers ask for /favicon.ico: answer with ours, not a 404."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("policies.api.urls")),
    path("", include("policies.urls")),
]
