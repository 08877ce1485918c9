"""tokens/: list mine, create (secret shown once), revoke."""

import pytest

from policies.crypto import hash_secret
from policies.models import ApiToken, AuditEvent
from tests.policies.api.conftest import API, assert_error

pytestmark = pytest.mark.django_db


class TokenApiTests:
    def test_create_shows_the_secret_once_and_stores_only_its_hash(self, clients, world):
        response = clients.dev.post(
            f"{API}/tokens/", {"name": "deploy", "read_only": True, "expires_in_days": 30}, format="json"
        )
        assert response.status_code == 201
        body = response.json()
        token = ApiToken.objects.get(pk=body["id"])
        assert token.token_hash == hash_secret(body["token"]) and body["token"] not in token.token_hash
        assert body["prefix"] == body["token"][:12] and body["read_only"] and body["expires_at"]
        listed = clients.dev.get(f"{API}/tokens/").json()["results"]
        assert {t["name"] for t in listed} == {"tests", "deploy"}
        assert all("token" not in t and "token_hash" not in t for t in listed)

    def test_the_audit_log_records_creation_and_revocation_without_the_secret(self, clients):
        body = clients.dev.post(f"{API}/tokens/", {"name": "deploy"}, format="json").json()
        clients.dev.post(f"{API}/tokens/{body['id']}/revoke/")
        events = AuditEvent.objects.filter(subject_type="apitoken", subject_id=str(body["id"])).order_by("seq")
        assert [e.event_name for e in events] == ["token.created", "token.revoked"]
        assert all(body["token"] not in str(e.after) for e in events)

    def test_a_revoked_token_stops_working_at_once(self, clients, world):
        body = clients.dev.post(f"{API}/tokens/", {"name": "deploy"}, format="json").json()
        from rest_framework.test import APIClient

        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
        assert other.get(f"{API}/tokens/").status_code == 200
        revoked = clients.dev.post(f"{API}/tokens/{body['id']}/revoke/")
        assert revoked.status_code == 200 and revoked.json()["active"] is False
        assert_error(other.get(f"{API}/tokens/"), 401, "authentication_failed")
        assert_error(clients.dev.post(f"{API}/tokens/{body['id']}/revoke/"), 409, "transition_not_allowed")

    def test_only_my_tokens_are_listed_and_revocable(self, clients, world):
        mine = clients.dev.post(f"{API}/tokens/", {"name": "deploy"}, format="json").json()
        assert [t["name"] for t in clients.lead.get(f"{API}/tokens/").json()["results"]] == ["tests"]
        assert_error(clients.lead.post(f"{API}/tokens/{mine['id']}/revoke/"), 404, "not_found")
        assert_error(clients.admin.post(f"{API}/tokens/{mine['id']}/revoke/"), 404, "not_found")

    def test_names_are_unique_among_live_tokens(self, clients):
        clients.dev.post(f"{API}/tokens/", {"name": "deploy"}, format="json")
        assert_error(
            clients.dev.post(f"{API}/tokens/", {"name": "deploy"}, format="json"), 400, "validation_error", "name"
        )
        assert_error(clients.dev.post(f"{API}/tokens/", {"name": " "}, format="json"), 400, "validation_error", "name")
        assert_error(
            clients.dev.post(f"{API}/tokens/", {"name": "x", "expires_in_days": 0}, format="json"),
            400,
            "validation_error",
            "expires_in_days",
        )
