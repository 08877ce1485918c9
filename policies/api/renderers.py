"""Non-JSON formats. Selecting them (`?format=csv`, `?format=yaml` or the Accept header) is left to
DRF's content negotiation; the views build the bodies. Errors are always JSON (see errors.py)."""

from rest_framework.renderers import BaseRenderer


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # The CSV view answers with a streaming response of its own; nothing else is rendered here.
        raise NotImplementedError("CSV bodies are streamed by the view.")


class YAMLRenderer(BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str | bytes):
            return data
        raise NotImplementedError("YAML bodies are produced by the view.")
