"""The reconcile outbox: mark clusters in the same transaction as the change that affects them,
then ask a worker after commit. If the broker is down the mark stays, and the beat sweep finds it."""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from policies.models import ClusterSyncState

logger = logging.getLogger(__name__)


def cluster_mark_for_reconcile(*, cluster_ids: Iterable[int], reason: str, enqueue: bool = True) -> list[int]:
    """Mark in the caller's transaction; unless `enqueue` is False (the caller enqueues its own task),
    ask a worker after commit."""
    ids = sorted({int(cluster_id) for cluster_id in cluster_ids})
    if not ids:
        return []
    now = timezone.now()
    existing = set(ClusterSyncState.objects.filter(cluster_id__in=ids).values_list("cluster_id", flat=True))
    ClusterSyncState.objects.bulk_create(
        [ClusterSyncState(cluster_id=cluster_id) for cluster_id in ids if cluster_id not in existing],
        ignore_conflicts=True,
    )
    ClusterSyncState.objects.filter(cluster_id__in=ids).update(
        needs_reconcile=True, marked_at=now, mark_reason=reason[:200]
    )
    if enqueue:
        transaction.on_commit(lambda: enqueue_reconcile(ids, trigger="change"))
    return ids


def enqueue_reconcile(cluster_ids: Iterable[int], *, trigger: str, run_id: int | None = None) -> None:
    """Best effort: a failure to publish is logged; the outbox flag guarantees a later run.
    `run_id` names a queued ReconcileRun for the task to fill in."""
    from policies.tasks import reconcile_cluster_task

    for cluster_id in cluster_ids:
        try:
            options = {"trigger": trigger, **({"run_id": run_id} if run_id is not None else {})}
            reconcile_cluster_task.delay(cluster_id, **options)
        except Exception as exc:  # broker down, misconfigured, …: never break the committed change
            logger.warning("could not enqueue reconcile of cluster %s (%s); the sweep will pick it up", cluster_id, exc)
