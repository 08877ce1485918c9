"""The per-cluster ingest token: the one secret a log shipper needs to post a cluster's access log."""

from django.db import transaction
from django.utils import timezone

from policies import crypto
from policies.actors import Actor
from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied
from policies.models import Cluster, ClusterIngestState
from policies.permissions import can_manage_clusters
from policies.services.audit import audit_event_record

INGEST_TOKEN_PREFIX = "egi"


@transaction.atomic
def cluster_ingest_token_rotate(*, cluster: Cluster, actor: Actor) -> str:
    """Issue a new ingest token for `cluster` and return it; it is never stored or shown again.

    The previous token stops working in the same transaction, so rotating is also how a leaked
    token is revoked. `actor=None` is the operator at the command line."""
    if actor is not None and not can_manage_clusters(actor):
        raise PermissionDenied("Only platform admins can rotate a cluster's ingest token.")
    state, _ = ClusterIngestState.objects.select_for_update().get_or_create(cluster=cluster)
    before = {"token_prefix": state.token_prefix or None, "token_rotated_at": state.token_rotated_at}
    secret = crypto.new_secret(INGEST_TOKEN_PREFIX)
    state.token_hash = crypto.hash_secret(secret)
    state.token_prefix = secret[:12]
    state.token_rotated_at = timezone.now()
    state.save(update_fields=["token_hash", "token_prefix", "token_rotated_at"])
    audit_event_record(
        event_type=AuditEventType.INGEST_TOKEN_ROTATED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=cluster,
        cluster=cluster,
        before=before,
        after={"token_prefix": state.token_prefix, "token_rotated_at": state.token_rotated_at},
        message="New access-log ingest token issued; the previous one no longer works.",
    )
    return secret
