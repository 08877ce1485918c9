import importlib

import pytest
from django.test import override_settings
from django.urls import clear_url_caches, reverse

from policies.choices import AuditEventType
from policies.models import AuditEvent, TeamMembership
from policies.oidc import OIDCBackend, claim_groups
from tests.factories import UserFactory, fixture_save

OIDC = {
    "OIDC_RP_CLIENT_ID": "egressui",
    "OIDC_RP_CLIENT_SECRET": "s3cret",
    "OIDC_RP_SIGN_ALGO": "HS256",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.com/token",
    "OIDC_OP_USER_ENDPOINT": "https://idp.example.com/userinfo",
}


@pytest.fixture
def backend():
    with override_settings(**OIDC):
        yield OIDCBackend()


def sign_in(backend, claims):
    """What the backend does with the claims once the provider has vouched for them."""
    backend.get_userinfo = lambda access_token, id_token, payload: claims
    return backend.get_or_create_user("access", "id", {})


@pytest.mark.django_db
class OIDCBackendTests:
    def test_first_sign_in_creates_the_user_and_joins_the_mapped_teams(self, backend, world):
        world.payments.oidc_group = "payments-devs"
        fixture_save(world.payments)
        user = sign_in(
            backend,
            {
                "preferred_username": "alice",
                "email": "alice@example.com",
                "given_name": "Alice",
                "groups": ["payments-devs"],
            },
        )
        assert user.username == "alice" and user.first_name == "Alice" and not user.has_usable_password()
        assert list(TeamMembership.objects.filter(user=user).values_list("team__slug", flat=True)) == ["payments"]

    def test_what_the_provider_sends_is_taken_as_it_is_and_audited(self, backend, world):
        claims = {"preferred_username": "Jane Doe", "email": "jane at example", "given_name": "Jane", "groups": []}
        user = sign_in(backend, claims)
        assert (user.username, user.email, user.first_name) == ("Jane Doe", "jane at example", "Jane")
        created = AuditEvent.objects.get(event_type=AuditEventType.ACCOUNT_CREATED, subject_id=str(user.pk))
        assert created.actor_repr == "oidc" and created.actor is None
        sign_in(backend, {**claims, "given_name": "Janet", "family_name": "Doe"})
        updated = AuditEvent.objects.get(event_type=AuditEventType.ACCOUNT_UPDATED, subject_id=str(user.pk))
        assert updated.actor_repr == "oidc"
        assert (updated.before, updated.after) == (
            {"first_name": "Jane", "last_name": ""},
            {"first_name": "Janet", "last_name": "Doe"},
        )
        sign_in(backend, {**claims, "given_name": "Janet", "family_name": "Doe"})
        assert AuditEvent.objects.filter(event_type=AuditEventType.ACCOUNT_UPDATED).count() == 1  # unchanged: none

    def test_next_sign_in_follows_group_changes(self, backend, world):
        world.payments.oidc_group = "payments-devs"
        fixture_save(world.payments)
        sign_in(backend, {"preferred_username": "alice", "groups": ["payments-devs"]})
        user = sign_in(backend, {"preferred_username": "alice", "groups": "other-group"})
        assert not TeamMembership.objects.filter(user=user).exists()

    def test_a_local_account_is_never_taken_over(self, backend, world):
        assert sign_in(backend, {"preferred_username": "admin", "groups": []}) is None
        assert sign_in(backend, {"preferred_username": "ADMIN", "groups": []}) is None

    def test_claims_without_a_username_are_refused(self, backend, world):
        assert not backend.verify_claims({"groups": ["x"]})
        assert backend.verify_claims({"email": "bob@example.com"})

    def test_groups_claim_may_be_a_string(self):
        assert claim_groups({"groups": "a, b c"}) == ["a", "b", "c"]
        assert claim_groups({}) == []


@pytest.mark.django_db
def test_the_sign_in_page_offers_sso_when_it_is_configured(client):
    import egressui.urls
    import policies.urls

    try:
        with override_settings(EGRESSUI_OIDC_ENABLED=True, EGRESSUI_OIDC_PROVIDER_NAME="Acme SSO", **OIDC):
            importlib.reload(policies.urls)
            importlib.reload(egressui.urls)
            clear_url_caches()
            content = client.get(reverse("login")).content.decode()
            assert "Sign in with Acme SSO" in content and reverse("oidc_authentication_init") in content
            failed = client.get(reverse("login") + "?sso=failed").content.decode()
            assert "Sign-in with Acme SSO did not complete" in failed
            start = client.get(reverse("oidc_authentication_init"))
            assert start.status_code == 302 and start["Location"].startswith("https://idp.example.com/authorize?")
    finally:
        importlib.reload(policies.urls)
        importlib.reload(egressui.urls)
        clear_url_caches()
    assert "Sign in with" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_local_sign_in_and_out(client):
    UserFactory(username="carol")
    wrong = client.post(reverse("login"), {"username": "carol", "password": "nope"})
    assert wrong.status_code == 200 and b'aria-invalid="true"' in wrong.content
    response = client.post(reverse("login"), {"username": "carol", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    out = client.post(reverse("logout"))
    assert out["Location"] == reverse("login")
