"""The API tokens page: my tokens only, creation shows the secret once, revocation after a confirmation,
every change through the token services (audited), and a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from policies.choices import AuditEventType
from policies.crypto import hash_secret
from policies.models import ApiToken, AuditEvent
from policies.services.tokens import api_token_create

pytestmark = pytest.mark.django_db
URL = "/tokens/"


def _token(user, name="ci", **kwargs):
    return api_token_create(user=user, actor=user, name=name, **kwargs)[0]


class TokenListTests:
    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        response = client.get(URL)
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    def test_lists_only_my_tokens_with_scope_expiry_and_last_use(self, client, world):
        mine = _token(world.dev, "deploy", read_only=True, expires_in_days=30)
        ApiToken.objects.filter(pk=mine.pk).update(last_used_at=timezone.now() - timedelta(hours=3))
        _token(world.lead, "lead-secret-pipeline")
        client.force_login(world.dev)
        content = client.get(URL).content.decode()
        assert "deploy" in content and mine.prefix in content and "Read only" in content
        assert "3 hours ago" in content and "in 4 weeks" in content
        assert "lead-secret-pipeline" not in content
        assert reverse("token_revoke", args=[mine.pk]) in content

    def test_the_navigation_links_to_tokens_and_api_docs(self, client, world):
        client.force_login(world.dev)
        content = client.get(reverse("dashboard")).content.decode()
        assert 'href="/tokens/"' in content and f'href="{reverse("api:docs")}"' in content

    def test_query_count_does_not_grow_with_the_tokens(self, client, world, django_assert_num_queries):
        _token(world.dev, "one")
        client.force_login(world.dev)
        client.get(URL)  # warm-up
        with CaptureQueriesContext(connection) as few:
            client.get(URL)
        for n in range(20):
            _token(world.dev, f"t{n}", read_only=bool(n % 2), expires_in_days=n + 1)
        with django_assert_num_queries(len(few)):
            response = client.get(URL)
        assert response.content.decode().count('data-label="Name"') == 21


class TokenCreateTests:
    def test_the_secret_is_in_the_answer_once_and_the_creation_is_audited(self, client, world):
        client.force_login(world.dev)
        response = client.post(URL, {"name": "nightly-export", "read_only": "1", "expires_in_days": "7"})
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        token = ApiToken.objects.get(user=world.dev, name="nightly-export")
        content = response.content.decode()
        secret = content.split('id="new-token" class="mono" value="')[1].split('"')[0]
        assert token.token_hash == hash_secret(secret) and token.read_only
        assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
        assert "shown only this once" in content
        event = AuditEvent.objects.get(event_type=AuditEventType.TOKEN_CREATED)
        assert event.actor == world.dev and secret not in str(event.after)
        assert secret not in client.get(URL).content.decode()

    def test_never_expiring_and_read_write(self, client, world):
        client.force_login(world.dev)
        client.post(URL, {"name": "forever", "read_only": "0", "expires_in_days": ""})
        token = ApiToken.objects.get(name="forever")
        assert token.expires_at is None and not token.read_only

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"name": "", "read_only": "0", "expires_in_days": "90"}, "name", "Give the token a name"),
            ({"name": "x", "read_only": "0", "expires_in_days": "9999"}, "expires_in_days", "Select a valid choice"),
            ({"name": "x", "read_only": "maybe", "expires_in_days": "90"}, "read_only", "Select a valid choice"),
        ],
    )
    def test_bad_input_is_refused_next_to_its_field_without_writing(self, client, world, data, field, message):
        client.force_login(world.dev)
        response = client.post(URL, data)
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors[field])
        assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()

    def test_a_duplicate_live_name_is_a_name_error_from_the_service(self, client, world):
        _token(world.dev, "ci")
        client.force_login(world.dev)
        response = client.post(URL, {"name": "ci", "read_only": "0", "expires_in_days": "90"})
        assert response.status_code == 400
        assert "already have a token named 'ci'" in " ".join(response.context["form"].errors["name"])
        assert ApiToken.objects.filter(name="ci").count() == 1


class TokenRevokeTests:
    def test_a_confirmation_first_then_revoked_and_audited(self, client, world):
        token = _token(world.dev, "ci")
        client.force_login(world.dev)
        url = reverse("token_revoke", args=[token.pk])
        confirm = client.get(url)
        assert confirm.status_code == 200 and b"Revoke token ci?" in confirm.content
        token.refresh_from_db()
        assert token.revoked_at is None
        response = client.post(url, follow=True)
        assert b"Token ci revoked" in response.content
        token.refresh_from_db()
        assert token.revoked_at is not None
        event = AuditEvent.objects.get(event_type=AuditEventType.TOKEN_REVOKED)
        assert event.actor == world.dev and event.before["revoked_at"] is None
        assert reverse("token_revoke", args=[token.pk]) not in response.content.decode()

    def test_another_users_token_does_not_exist_for_me(self, client, world):
        token = _token(world.lead, "lead-ci")
        client.force_login(world.dev)
        assert client.get(reverse("token_revoke", args=[token.pk])).status_code == 404
        assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
        token.refresh_from_db()
        assert token.revoked_at is None and not AuditEvent.objects.filter(event_type=AuditEventType.TOKEN_REVOKED)

    def test_revoking_twice_says_so_and_writes_nothing(self, client, world):
        token = _token(world.dev, "ci")
        client.force_login(world.dev)
        url = reverse("token_revoke", args=[token.pk])
        client.post(url)
        response = client.post(url, follow=True)
        assert b"already revoked" in response.content
        assert AuditEvent.objects.filter(event_type=AuditEventType.TOKEN_REVOKED).count() == 1


def test_an_api_token_does_not_open_the_tokens_page(client, world):
    """The page needs a signed-in session: a token (however broad) cannot mint tokens through the UI,
    so the bounds on tokens created with tokens hold there too."""
    _, secret = api_token_create(user=world.dev, actor=world.dev, name="ci")
    response = client.post(
        URL, {"name": "child", "read_only": "0", "expires_in_days": ""}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code in (302, 403)
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["ci"]
