import pytest

from egressui import health

pytestmark = pytest.mark.django_db


class HealthTests:
    def test_liveness(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response["X-Request-ID"]

    def test_readiness_reports_each_part(self, client):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok", "broker": "ok"}

    def test_readiness_names_the_failing_part(self, client, monkeypatch):
        def broken():
            raise ConnectionRefusedError("connection refused")

        monkeypatch.setattr(health, "_check_broker", broken)
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("error: ConnectionRefusedError")

    def test_incoming_request_id_is_kept_when_sane(self, client):
        assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
        assert client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"
