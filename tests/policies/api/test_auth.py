"""Bearer tokens and browser sessions."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from policies.models import ApiToken
from policies.services.tokens import api_token_create, api_token_revoke
from policies.services.users import user_update
from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


def _bearer(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


class BearerTokenTests:
    def test_a_valid_token_acts_as_its_owner(self, world):
        _, secret = api_token_create(user=world.dev, actor=world.dev, name="ci")
        response = _bearer(f"Bearer {secret}").post(f"{API}/requests/", create_body(world), format="json")
        assert response.status_code == 201 and response.json()["requester"] == "payments-dev"

    def test_no_credentials_is_401_with_a_bearer_challenge(self, anon):
        response = anon.get(f"{API}/requests/")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    @pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer egr_doesnotexist", "Bearer \u00e9"])
    def test_malformed_or_unknown_tokens_are_401(self, world, header):
        assert_error(_bearer(header).get(f"{API}/requests/"), 401, "authentication_failed")

    def test_expired_revoked_and_inactive_tokens_are_401(self, world):
        token, expired = api_token_create(user=world.dev, actor=world.dev, name="old", expires_in_days=1)
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        token, revoked = api_token_create(user=world.dev, actor=world.dev, name="revoked")
        api_token_revoke(token=token, actor=world.dev)
        _, inactive = api_token_create(user=world.lead, actor=world.lead, name="leaver")
        user_update(user=world.lead, actor=None, is_active=False)
        for secret in (expired, revoked, inactive):
            assert_error(_bearer(f"Bearer {secret}").get(f"{API}/requests/"), 401, "authentication_failed")

    def test_read_only_tokens_can_read_but_not_write(self, world):
        _, secret = api_token_create(user=world.dev, actor=world.dev, name="ro", read_only=True)
        client = _bearer(f"Bearer {secret}")
        assert client.get(f"{API}/requests/").status_code == 200
        error = assert_error(client.post(f"{API}/requests/", create_body(world), format="json"), 403, "token_read_only")
        assert "read-only" in error["message"]

    def test_last_use_is_recorded_at_most_once_a_minute(self, world, django_assert_num_queries):
        token, secret = api_token_create(user=world.dev, actor=world.dev, name="ci")
        client = _bearer(f"Bearer {secret}")
        client.get(f"{API}/tokens/")
        token.refresh_from_db()
        first_use = token.last_used_at
        assert first_use is not None
        client.get(f"{API}/tokens/")
        token.refresh_from_db()
        assert token.last_used_at == first_use
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
        client.get(f"{API}/tokens/")
        token.refresh_from_db()
        assert token.last_used_at > first_use - timedelta(minutes=2)


def _logged_in(client: APIClient, user) -> APIClient:
    client.force_login(user)
    return client


class SessionTests:
    def test_the_browser_session_works_for_reads(self, world):
        client = _logged_in(APIClient(), world.dev)
        assert client.get(f"{API}/requests/").status_code == 200

    def test_session_writes_need_the_csrf_token(self, world):
        client = _logged_in(APIClient(enforce_csrf_checks=True), world.dev)
        refused = client.post(f"{API}/requests/", create_body(world), format="json")
        error = assert_error(refused, 403, "permission_denied")
        assert "CSRF" in error["message"]
        client.get("/api/v1/docs/?script=")  # the docs script carries the CSRF token, and sets its cookie
        csrf = client.cookies["csrftoken"].value
        accepted = client.post(f"{API}/requests/", create_body(world), format="json", HTTP_X_CSRFTOKEN=csrf)
        assert accepted.status_code == 201, accepted.content
