"""Security headers, the Content-Security-Policy, HTTPS behaviour behind a proxy, and templates that
the policy lets work (no inline script, style or event handler anywhere)."""

import re

import pytest
from django.test import Client, override_settings

from tests.deploy.manifests import ROOT

TEMPLATE_DIRS = [ROOT / "policies" / "templates", ROOT / "egressui" / "templates"]
# What a strict CSP without 'unsafe-inline' / 'unsafe-eval' would block in a template.
FORBIDDEN_IN_TEMPLATES = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "inline style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on attribute (needs eval)": re.compile(r"\shx-on[:-]", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "js: value (needs eval)": re.compile(r"""hx-vals\s*=\s*['"]\s*js:""", re.IGNORECASE),
}


def _policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


def _template_source(path) -> str:
    # Django comments may mention what is forbidden; they are never sent to the browser.
    text = path.read_text()
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.DOTALL)
    return re.sub(r"{#.*?#}", "", text)


class SecurityHeaderTests:
    def test_every_response_carries_the_headers(self, client):
        response = client.get("/healthz")
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]
        assert response["X-Request-ID"]

    def test_content_security_policy_is_strict(self, client):
        policy = _policy(client.get("/healthz"))
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"], "no inline scripts, no eval, no third-party scripts"
        assert policy["style-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]

    @pytest.mark.parametrize("template_dir", [d for d in TEMPLATE_DIRS if d.exists()], ids=lambda d: d.parent.name)
    def test_templates_need_nothing_the_policy_forbids(self, template_dir):
        offences = []
        for path in sorted(template_dir.rglob("*.html")):
            source = _template_source(path)
            for what, pattern in FORBIDDEN_IN_TEMPLATES.items():
                for match in pattern.finditer(source):
                    line = source.count("\n", 0, match.start()) + 1
                    offences.append(f"{path.relative_to(ROOT)}:{line}: {what}")
        assert offences == []

    def test_the_template_check_finds_an_inline_script(self, tmp_path):
        page = tmp_path / "page.html"
        page.write_text(
            '{# <script>ok in a comment</script> #}\n<script src="/static/a.js"></script>\n<script>alert(1)</script>'
        )
        source = _template_source(page)
        assert [what for what, p in FORBIDDEN_IN_TEMPLATES.items() if p.search(source)] == ["inline script"]


class HttpsBehindProxyTests:
    """What production runs: EGRESSUI_HTTPS and EGRESSUI_TRUST_X_FORWARDED_PROTO on (tests run on plain HTTP)."""

    PRODUCTION = {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }

    def test_plain_http_is_redirected_to_https(self):
        with override_settings(**self.PRODUCTION):
            response = Client().get("/admin/login/")
        assert response.status_code == 301
        assert response["Location"] == "https://testserver/admin/login/"

    def test_probes_are_answered_over_plain_http(self):
        with override_settings(**self.PRODUCTION):
            assert Client().get("/healthz").status_code == 200

    def test_https_from_the_proxy_gets_hsts_and_secure_cookies(self, db):
        with override_settings(**self.PRODUCTION):
            response = Client().get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 200
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert response.cookies["csrftoken"]["secure"] is True
