"""OpenAPI document and interactive docs, both served from this installation (no CDN: the Swagger
UI files come from drf-spectacular-sidecar through our static files)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class SchemaApi(SpectacularAPIView):
    """GET /api/v1/schema/ (?format=json for JSON; YAML by default). Public: it describes, it does not reveal."""

    authentication_classes = []
    permission_classes = []


class DocsApi(SpectacularSwaggerSplitView):
    """Swagger UI with its init script served separately, so the page runs under our CSP (no inline
    script). It uses the browser session: sign in first, or paste a token under Authorize."""

    template_name = "api/swagger_ui.html"
    url_name = "api:schema"
