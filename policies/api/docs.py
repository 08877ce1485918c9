"""OpenAPI document and interactive docs, both served from this installation (no CDN: the Swagger
UI files come from drf-spectacular-sidecar through our static files)."""

from django.core.signals import setting_changed
from django.dispatch import receiver
from drf_spectacular.plumbing import set_query_parameters
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.response import Response

# The document depends only on the code and the settings, and building it walks every endpoint
# (about half a second), rendering it as YAML another 100 ms: both are done once per process, version
# and format, and forgotten when a setting changes (tests).
_SCHEMAS: dict[tuple, dict] = {}
_RENDERED: dict[tuple, bytes] = {}


@receiver(setting_changed)
def _forget_schemas(**_) -> None:
    _SCHEMAS.clear()
    _RENDERED.clear()


class SchemaApi(SpectacularAPIView):
    """GET /api/v1/schema/ (?format=json for JSON; YAML by default). Public: it describes, it does not reveal."""

    authentication_classes = []
    permission_classes = []

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, self.serve_public, self.urlconf)
        schema = _SCHEMAS.get(key)
        if schema is None:
            generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
            schema = _SCHEMAS[key] = generator.get_schema(request=request, public=self.serve_public)
        filename = self._get_filename(request, version)
        return Response(data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and isinstance(response, Response):
            key = (response.accepted_media_type, request.GET.get("version"), request.GET.get("lang"))
            if key not in _RENDERED:
                _RENDERED[key] = response.rendered_content
            response.content = _RENDERED[key]  # marks the response rendered
        return response


class DocsApi(SpectacularSwaggerSplitView):
    """Swagger UI with its init script served separately, so the page runs under our CSP (no inline
    script). It uses the browser session: sign in first, or paste a token under Authorize."""

    template_name = "api/swagger_ui.html"
    url_name = "api:schema"

    def _get_schema_url(self, request):
        return set_query_parameters(url=super()._get_schema_url(request), format="json")  # JSON parses faster
