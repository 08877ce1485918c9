"""Findings 8 and 9: sign-in is throttled, and a token never mints a broader or longer-lived one.

Sign-in (the UI's form and the admin's) locks out per account and per client address after a
configurable number of failures — the right password included — says so clearly and records the
lock-out in the audit trail; failed API token authentication is throttled per address the same way.
A token creating tokens cannot outlive its parent or be broader than it.
"""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from policies.choices import AuditEventType
from policies.models import ApiToken, AuditEvent
from policies.services.tokens import api_token_create
from policies.services.users import user_password_set

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


def _sign_in(client: Client, username: str, password: str, *, address: str = "198.51.100.7", path="/login/", **extra):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


@pytest.fixture
def account(world):
    return user_password_set(user=world.dev, actor=None, password="right-horse-battery")


class SignInThrottleTests:
    def test_thirty_wrong_passwords_then_the_right_one_does_not_sign_in(self, account, settings):
        client = Client()
        for _ in range(30):
            _sign_in(client, "payments-dev", "wrong")
        response = _sign_in(client, "payments-dev", "right-horse-battery")
        assert response.status_code == 429 and "_auth_user_id" not in client.session
        page = response.content.decode()
        assert "Too many failed sign-in attempts" in page and "blocked for 15 minutes" in page
        assert response["Retry-After"] == "900"
        [event] = AuditEvent.objects.filter(event_type=AuditEventType.SIGN_IN_LOCKED_OUT)
        assert event.after["username"] == "payments-dev" and event.after["address"] == "198.51.100.7"
        assert event.after["failure_limit"] == settings.AXES_FAILURE_LIMIT

    def test_the_limit_is_configurable_and_a_success_before_it_resets_the_count(self, account, settings):
        settings.AXES_FAILURE_LIMIT = 3
        client = Client()
        for _ in range(2):
            assert _sign_in(client, "payments-dev", "wrong").status_code == 200
        assert _sign_in(client, "payments-dev", "right-horse-battery").status_code == 302
        client.logout()
        for _ in range(2):
            _sign_in(client, "payments-dev", "wrong")
        assert _sign_in(client, "payments-dev", "wrong").status_code == 429

    def test_per_account_from_any_address(self, account, settings):
        settings.AXES_FAILURE_LIMIT = 5
        for number in range(5):
            _sign_in(Client(), "payments-dev", "wrong", address=f"203.0.113.{number}")
        assert _sign_in(Client(), "payments-dev", "right-horse-battery", address="192.0.2.99").status_code == 429

    def test_per_address_whatever_the_account(self, account, world, settings):
        settings.AXES_FAILURE_LIMIT = 5
        for number in range(5):
            _sign_in(Client(), f"guess{number}", "wrong", address="203.0.113.50")
        assert _sign_in(Client(), "payments-dev", "right-horse-battery", address="203.0.113.50").status_code == 429
        assert _sign_in(Client(), "payments-dev", "right-horse-battery", address="203.0.113.51").status_code == 302

    def test_a_forged_forwarded_for_does_not_change_the_address(self, account, settings):
        settings.AXES_FAILURE_LIMIT = 5
        for number in range(5):
            _sign_in(Client(), f"guess{number}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        assert _sign_in(Client(), "payments-dev", "right-horse-battery").status_code == 429

    def test_behind_trusted_proxies_the_address_they_saw_counts(self, account, settings):
        settings.AXES_FAILURE_LIMIT = 5
        settings.EGRESSUI_TRUSTED_PROXY_COUNT = 1
        for number in range(5):
            _sign_in(Client(), f"guess{number}", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{number}, 192.0.2.10")
        forwarded = {"HTTP_X_FORWARDED_FOR": "192.0.2.10"}
        assert _sign_in(Client(), "payments-dev", "right-horse-battery", **forwarded).status_code == 429
        other = {"HTTP_X_FORWARDED_FOR": "192.0.2.11"}
        assert _sign_in(Client(), "payments-dev", "right-horse-battery", **other).status_code == 302

    def test_the_admin_sign_in_is_throttled_too(self, world, settings):
        settings.AXES_FAILURE_LIMIT = 3
        user_password_set(user=world.admin, actor=None, password="admin-pass-123")
        for _ in range(3):
            _sign_in(Client(), "admin", "wrong", path="/admin/login/")
        response = _sign_in(Client(), "admin", "admin-pass-123", path="/admin/login/")
        assert response.status_code == 429


class TokenAuthenticationThrottleTests:
    def test_guessing_tokens_from_one_address_locks_that_address(self, world, settings):
        settings.AXES_FAILURE_LIMIT = 5
        _, secret = api_token_create(user=world.dev, actor=world.dev, name="ci")
        for number in range(5):
            response = _bearer(f"egr_guess{number:02d}xxxxxxxxxxxxxxxxxxxx").get(
                "/api/v1/requests/", REMOTE_ADDR="203.0.113.9"
            )
            assert response.status_code in (401, 429)
        assert response.status_code == 429 and response.json()["error"]["code"] == "locked_out"
        locked = _bearer(secret).get("/api/v1/requests/", REMOTE_ADDR="203.0.113.9")
        assert locked.status_code == 429 and "authentication attempts" in locked.json()["error"]["message"]
        assert _bearer(secret).get("/api/v1/requests/", REMOTE_ADDR="203.0.113.10").status_code == 200
        assert AuditEvent.objects.filter(event_type=AuditEventType.SIGN_IN_LOCKED_OUT).count() == 1

    def test_ingest_tokens_are_throttled_the_same_way(self, world, settings):
        settings.AXES_FAILURE_LIMIT = 3
        url = f"/api/v1/clusters/{world.cluster.pk}/access-logs/"
        for number in range(3):
            _bearer(f"egi_wrong{number}").post(
                url, b"", content_type="application/x-ndjson", REMOTE_ADDR="203.0.113.20"
            )
        response = _bearer("egi_wrong9").post(url, b"", content_type="application/x-ndjson", REMOTE_ADDR="203.0.113.20")
        assert response.status_code == 429
