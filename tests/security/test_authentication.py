"""Findings 8 and 9: sign-in is throttled, and a token never mints a broader or longer-lived one.

Sign-in (the UI's form and the admin's) locks out per account and per client address after a
configurable number of failures — the right password included — says so clearly and records the
lock-out in the audit trail; failed API token authentication is throttled per address the same way.
A token creating tokens cannot outlive its parent or be broader than it.
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from policies.models import ApiToken, AuditEvent
from policies.services.tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttles and lock-outs live in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


class TokenMintingTests:
    def test_a_short_lived_token_cannot_mint_a_permanent_one(self, world):
        parent, secret = api_token_create(user=world.dev, actor=world.dev, name="ci", expires_in_days=2)
        client = _bearer(secret)
        response = client.post("/api/v1/tokens/", {"name": "forever"}, format="json")
        assert response.status_code == 201
        assert ApiToken.objects.get(pk=response.json()["id"]).expires_at == parent.expires_at
        response = client.post("/api/v1/tokens/", {"name": "longer", "expires_in_days": 30}, format="json")
        assert response.status_code == 400
        assert "cannot outlive it" in response.json()["error"]["fields"]["expires_in_days"][0]
        response = client.post("/api/v1/tokens/", {"name": "shorter", "expires_in_days": 1}, format="json")
        assert response.status_code == 201
        assert ApiToken.objects.get(pk=response.json()["id"]).expires_at <= parent.expires_at

    def test_a_read_only_token_creates_nothing(self, world):
        _, secret = api_token_create(user=world.dev, actor=world.dev, name="reader", read_only=True)
        for body in ({"name": "rw"}, {"name": "ro", "read_only": True}):
            response = _bearer(secret).post("/api/v1/tokens/", body, format="json")
            assert response.status_code == 403
        assert ApiToken.objects.filter(user=world.dev).count() == 1
        parent = ApiToken.objects.get(name="reader")
        with pytest.raises(Exception, match="read-only token cannot create tokens"):
            api_token_create(user=world.dev, actor=world.dev, name="rw", parent=parent)

    def test_the_audit_event_names_the_parent_token(self, world):
        parent, secret = api_token_create(user=world.dev, actor=world.dev, name="ci", expires_in_days=7)
        body = _bearer(secret).post("/api/v1/tokens/", {"name": "child"}, format="json").json()
        event = AuditEvent.objects.get(subject_type="apitoken", subject_id=str(body["id"]))
        assert event.after["created_with_token"] == parent.prefix

    def test_a_person_signed_in_still_chooses_freely(self, world, client):
        client.force_login(world.dev)
        response = client.post("/api/v1/tokens/", {"name": "forever"}, content_type="application/json")
        assert response.status_code == 201 and response.json()["expires_at"] is None
