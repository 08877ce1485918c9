"""Asking for reconciles: a person's request (a queued run), the outbox sweep and the periodic
resync. Opening and recording a run is the loop's own business: `policies.reconciler.runs`."""

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from egressui.correlation import current_correlation_id
from policies.choices import AuditEventType, ClusterStatus
from policies.exceptions import PermissionDenied
from policies.models import Cluster, ClusterSyncState, ReconcileRun
from policies.permissions import can_manage_clusters
from policies.services.audit import audit_event_record
from policies.services.outbox import cluster_mark_for_reconcile, enqueue_reconcile


@transaction.atomic(durable=True)
def cluster_reconcile_request(*, cluster: Cluster, actor: User) -> ReconcileRun:
    """Queue a reconcile now. The run exists (state `queued`) when this returns, so the UI and the API
    can show its id at once; the worker that executes it fills it in. The outbox mark means a lost
    message still gets the cluster reconciled by the sweep, which then claims this run."""
    if not can_manage_clusters(actor):
        raise PermissionDenied("Only platform admins can reconcile clusters.")
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    run = ReconcileRun.objects.create(
        cluster=cluster,
        trigger="manual",
        started_at=timezone.now(),
        outcome=ReconcileRun.Outcome.QUEUED,
        requested_by=actor,
        correlation_id=current_correlation_id(),
    )
    audit_event_record(
        event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED,
        actor=actor,
        subject=cluster,
        cluster=cluster,
        after={"run": run.pk},
    )
    cluster_mark_for_reconcile(cluster_ids=[cluster.pk], reason=f"reconcile requested by {actor}", enqueue=False)
    transaction.on_commit(lambda: enqueue_reconcile([cluster.pk], trigger="manual", run_id=run.pk))
    return run


# A cluster whose last attempt failed is left to the task's own backoff for this long, unless a new
# change was marked since; the sweep then tries again (the safety net for exhausted retries).
SWEEP_BACKOFF = timedelta(minutes=5)


def reconcile_sweep_marked(*, now: datetime | None = None) -> int:
    """Enqueue a reconcile for every cluster still marked in the outbox (e.g. the broker was down when
    the change committed). Returns how many were enqueued."""
    now = now or timezone.now()
    due = Q(status=ClusterStatus.DEGRADED, last_attempt_at__gt=now - SWEEP_BACKOFF) & ~Q(
        marked_at__gt=F("last_attempt_at")
    )
    cluster_ids = list(
        ClusterSyncState.objects.filter(needs_reconcile=True).exclude(due).values_list("cluster_id", flat=True)
    )
    enqueue_reconcile(cluster_ids, trigger="sweep")
    return len(cluster_ids)


def reconcile_resync_all() -> int:
    """Enqueue a full resync of every cluster: drift (objects edited or deleted behind our back) is
    found and repaired even when nothing changed in the database."""
    cluster_ids = list(Cluster.objects.order_by("pk").values_list("pk", flat=True))
    enqueue_reconcile(cluster_ids, trigger="resync")
    return len(cluster_ids)
