"""The OpenAPI document and the interactive docs."""

import json
import re

import pytest
import yaml
from django.core.management import call_command

from tests.policies.api.conftest import API

pytestmark = pytest.mark.django_db
# Posts that take a raw (log) body rather than one JSON object, and no Idempotency-Key.
RAW_BODY_POSTS = {"/api/v1/clusters/{id}/access-logs/"}
SECRET_FIELDS = {"token_hash", "webhook_secret", "webhook_url", "kubeconfig", "ca_cert", "password"}


def _document(client) -> dict:
    return json.loads(client.get(f"{API}/schema/", {"format": "json"}).content)


class SchemaTests:
    def test_generation_is_valid_and_warning_free(self, tmp_path):
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
        assert yaml.safe_load((tmp_path / "s.yaml").read_text())["openapi"].startswith("3.")

    def test_served_without_credentials_in_yaml_and_json(self, anon):
        assert yaml.safe_load(anon.get(f"{API}/schema/").content)["info"]["title"] == "egressui API"
        document = _document(anon)
        assert {"bearerAuth", "cookieAuth"} <= set(document["components"]["securitySchemes"])
        assert {"/api/v1/requests/", "/api/v1/requests/{id}/approve/", "/api/v1/tokens/"} <= set(document["paths"])

    def test_every_operation_documents_the_error_shape(self, anon):
        document = _document(anon)
        assert document["components"]["schemas"]["Error"]["required"] == ["error"]
        for path, item in document["paths"].items():
            for method, operation in item.items():
                responses = operation["responses"]
                for status in ("401", "403", "404", "429"):
                    schema = responses[status]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
                idempotent = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
                assert idempotent == ("422" in responses), (method, path)
                if method == "post" and path not in RAW_BODY_POSTS:
                    assert idempotent, (method, path)

    def test_outputs_never_carry_secrets(self, anon):
        schemas = _document(anon)["components"]["schemas"]
        for name, schema in schemas.items():
            if name.endswith("Request") or name == "Error":  # request bodies may take write-only secrets
                continue
            assert not SECRET_FIELDS & set(schema.get("properties", {})), name

    def test_request_examples_are_documented(self, anon):
        create = _document(anon)["paths"]["/api/v1/requests/"]["post"]["requestBody"]["content"]["application/json"]
        assert create["examples"]


class DocsPageTests:
    def test_swagger_ui_is_served_from_our_static_files_only(self, anon):
        page = anon.get(f"{API}/docs/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
        assert not re.search(r"""(src|href)=["']https?://""", html), "no CDN or other external asset"
        assert "<style" not in html and "<script>" not in html, "no inline style or script (CSP)"
        script = anon.get(f"{API}/docs/", {"script": ""})
        assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
        assert f"{API}/schema/" in script.content.decode()
