"""Finding 10: no webhook secret in the audit trail, and no silent loss of access-log lines.

A team's webhook URL often is its secret (chat webhooks put the key in the path), so the audit trail
records its scheme and host only, whichever way the team was changed (API, admin). A chunked
access-log post (no Content-Length) is read within the same size limits where the server decodes it,
and refused with 411 where it cannot be — never answered `accepted=0`.
"""

import http.client
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from policies.models import AuditEvent
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from tests.policies.api.test_monitoring import conn, recent_hour

pytestmark = pytest.mark.django_db

SECRET_PATH = "/services/T0001/B0002/Zx9SecretWebhookKey"


def _admin(world) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


class WebhookUrlTests:
    def test_recorded_as_scheme_and_host_only(self, world):
        admin = _admin(world)
        response = admin.patch(
            f"/api/v1/teams/{world.payments.pk}/",
            {"webhook_url": f"https://hooks.slack.com{SECRET_PATH}"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        response = admin.post(
            "/api/v1/teams/",
            {"slug": "growth", "name": "Growth", "webhook_url": f"https://hooks.example.com:8443{SECRET_PATH}?k=1"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        form = {
            "slug": "search",
            "name": "Search",
            "email": "search@example.com",
            "webhook_url": f"https://chat.example.com{SECRET_PATH}",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
        response = admin.post(f"/admin/policies/team/{world.search.pk}/change/", form)
        assert response.status_code == 302, response.content.decode()[:3000]

        events = AuditEvent.objects.filter(subject_type="team")
        recorded = [event.after.get("webhook_url") for event in events if event.after and "webhook_url" in event.after]
        assert sorted(recorded) == [
            "https://chat.example.com",
            "https://hooks.example.com:8443",
            "https://hooks.slack.com",
        ]
        exports = [
            b"".join(admin.get(url).streaming_content).decode()
            for url in ("/audit/export.csv", "/audit/export.json", "/api/v1/audit-events/?format=csv")
        ]
        pages = [admin.get("/api/v1/audit-events/").content.decode(), admin.get("/audit/").content.decode()]
        assert not [text for text in [*exports, *pages] if "Zx9SecretWebhookKey" in text]


def _ingest(world) -> tuple[str, str]:
    secret = cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
    return secret, f"/api/v1/clusters/{world.cluster.pk}/access-logs/"


def _lines(count: int) -> bytes:
    moment = recent_hour()
    return b"\n".join(json.dumps(conn(moment)).encode() for _ in range(count)) + b"\n"


def _chunked(client: Client, url: str, secret: str, body: bytes, *, terminated: bool):
    """A POST as a WSGI server passes on a chunked request: no CONTENT_LENGTH, the decoded body in
    wsgi.input, and `wsgi.input_terminated` when the server marks where it ends (gunicorn)."""
    extra = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)}
    if terminated:
        extra["wsgi.input_terminated"] = True
    return client.generic(
        "POST", url, b"", content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {secret}", **extra
    )


class ChunkedIngestTests:
    def test_a_decoded_chunked_body_is_read_in_full(self, world):
        secret, url = _ingest(world)
        response = _chunked(Client(), url, secret, _lines(3), terminated=True)
        assert response.status_code == 200 and response.json()["accepted"] == 3

    def test_within_the_same_size_limit(self, world, settings):
        settings.EGRESSUI_INGEST_MAX_BODY_BYTES = 1000
        secret, url = _ingest(world)
        response = _chunked(Client(), url, secret, _lines(20), terminated=True)
        assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    def test_a_server_that_cannot_say_where_it_ends_gets_411(self, world):
        secret, url = _ingest(world)
        response = _chunked(Client(), url, secret, _lines(3), terminated=False)
        assert response.status_code == 411 and "Content-Length" in response.json()["error"]["message"]

    def test_over_real_http_on_a_server_that_does_not_decode_chunks(self, world, live_server):
        """Django's live server (wsgiref) passes chunked bodies on undecoded: 411, not accepted=0."""
        secret, url = _ingest(world)
        host, port = live_server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        body = _lines(2)
        connection.request(
            "POST",
            url,
            body=iter([body[:40], body[40:]]),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 411, response.read()


_ECHO_APP = """
def app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s %d" % (str(bool(environ.get("wsgi.input_terminated"))).encode(), len(body))]
"""


def test_gunicorn_decodes_chunked_bodies_and_says_where_they_end(tmp_path: Path):
    """The contract the chunked path relies on, pinned on the server egressui ships with."""
    (tmp_path / "echo_app.py").write_text(_ECHO_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "echo_app:app"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("POST", "/", body=iter([b"a" * 1000, b"b" * 500]), encode_chunked=True)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        assert connection.getresponse().read() == b"True 1500"
    finally:
        server.terminate()
        server.wait(timeout=10)
