"""The per-cluster ingest token: issued and rotated by admins, stored hashed, audited without the secret."""

import json

import pytest

from policies import crypto
from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied
from policies.models import AuditEvent, ClusterIngestState
from policies.selectors.monitoring import ingest_state_for_secret
from policies.services.ingest_tokens import cluster_ingest_token_rotate

pytestmark = pytest.mark.django_db


class IngestTokenRotateTests:
    def test_issues_a_hashed_token_and_audits_the_prefix_only(self, world):
        secret = cluster_ingest_token_rotate(cluster=world.cluster, actor=world.admin)
        state = ClusterIngestState.objects.get(cluster=world.cluster)
        assert secret.startswith("egi_") and state.token_hash == crypto.hash_secret(secret)
        assert state.token_prefix == secret[:12]
        event = AuditEvent.objects.get(event_type=AuditEventType.INGEST_TOKEN_ROTATED)
        assert event.actor == world.admin and event.cluster == world.cluster
        assert event.before["token_prefix"] is None and event.after["token_prefix"] == secret[:12]
        assert secret not in json.dumps([event.before, event.after, event.message])

    def test_rotation_replaces_the_previous_token(self, world):
        first = cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
        second = cluster_ingest_token_rotate(cluster=world.cluster, actor=world.admin)
        assert ingest_state_for_secret(first) is None
        assert ingest_state_for_secret(second).cluster == world.cluster
        events = AuditEvent.objects.filter(event_type=AuditEventType.INGEST_TOKEN_ROTATED).order_by("seq")
        assert events[1].before["token_prefix"] == first[:12]
        assert events[0].actor_repr == "operator"

    def test_only_platform_admins(self, world):
        with pytest.raises(PermissionDenied):
            cluster_ingest_token_rotate(cluster=world.cluster, actor=world.lead)
        assert not ClusterIngestState.objects.exists()
        assert not AuditEvent.objects.filter(event_type=AuditEventType.INGEST_TOKEN_ROTATED).exists()

    def test_unknown_and_empty_secrets_find_nothing(self, world):
        cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
        assert ingest_state_for_secret("") is None and ingest_state_for_secret("egi_nope") is None
