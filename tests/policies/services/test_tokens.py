"""API token services: only the hash is kept, revocation is audited and final, last use is cheap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.crypto import hash_secret
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApiToken, AuditEvent
from policies.selectors.tokens import api_token_for_secret
from policies.services.tokens import api_token_create, api_token_revoke, api_token_touch
from policies.services.users import user_update

pytestmark = pytest.mark.django_db


class ApiTokenCreateTests:
    def test_the_secret_is_returned_once_and_only_its_hash_is_stored(self, world):
        token, secret = api_token_create(user=world.dev, actor=world.dev, name="ci", expires_in_days=7)
        assert secret.startswith("egr_") and len(secret) > 40
        stored = ApiToken.objects.get(pk=token.pk)
        assert stored.token_hash == hash_secret(secret) and stored.prefix == secret[:12]
        assert secret not in str(ApiToken.objects.values().get(pk=token.pk))
        assert timedelta(days=6) < stored.expires_at - timezone.now() <= timedelta(days=7)
        event = AuditEvent.objects.get(subject_type="apitoken")
        assert event.event_name == "token.created" and event.actor == world.dev
        assert secret not in str(event.after) and event.after["name"] == "ci"

    def test_the_operator_may_create_for_anyone_users_only_for_themselves(self, world):
        token, _ = api_token_create(user=world.dev, actor=None, name="bootstrap")
        assert AuditEvent.objects.get(subject_id=str(token.pk)).actor_repr == "operator"
        with pytest.raises(PermissionDenied):
            api_token_create(user=world.dev, actor=world.admin, name="x")

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"name": ""}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ],
    )
    def test_invalid_input_names_the_field(self, world, kwargs, field):
        with pytest.raises(ValidationFailed) as caught:
            api_token_create(user=world.dev, actor=world.dev, **kwargs)
        assert set(caught.value.fields) == {field}

    def test_a_revoked_name_can_be_reused(self, world):
        token, _ = api_token_create(user=world.dev, actor=world.dev, name="ci")
        with pytest.raises(ValidationFailed):
            api_token_create(user=world.dev, actor=world.dev, name="ci")
        api_token_revoke(token=token, actor=world.dev)
        api_token_create(user=world.dev, actor=world.dev, name="ci")


class ApiTokenRevokeTests:
    def test_owners_and_admins_revoke_others_cannot(self, world):
        token, secret = api_token_create(user=world.dev, actor=world.dev, name="ci")
        with pytest.raises(PermissionDenied):
            api_token_revoke(token=token, actor=world.lead)
        api_token_revoke(token=token, actor=world.admin)
        assert api_token_for_secret(secret) is None
        with pytest.raises(TransitionNotAllowed):
            api_token_revoke(token=token, actor=world.dev)
        event = AuditEvent.objects.get(event_type=601)
        assert event.actor == world.admin and event.after["user"] == "payments-dev"


class ApiTokenLookupTests:
    def test_lookup_refuses_expired_tokens_and_inactive_users(self, world):
        token, secret = api_token_create(user=world.dev, actor=world.dev, name="ci", expires_in_days=1)
        assert api_token_for_secret(secret) == token
        assert api_token_for_secret(secret + "x") is None and api_token_for_secret("") is None
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
        assert api_token_for_secret(secret) is None
        other, other_secret = api_token_create(user=world.lead, actor=world.lead, name="ci")
        user_update(user=world.lead, actor=None, is_active=False)
        assert api_token_for_secret(other_secret) is None

    def test_touch_writes_at_most_once_a_minute(self, world, django_assert_num_queries):
        token, _ = api_token_create(user=world.dev, actor=world.dev, name="ci")
        now = timezone.now()
        with django_assert_num_queries(1):
            api_token_touch(token=token, now=now)
        with django_assert_num_queries(0):
            api_token_touch(token=token, now=now + timedelta(seconds=59))
        with django_assert_num_queries(1):
            api_token_touch(token=token, now=now + timedelta(seconds=61))
