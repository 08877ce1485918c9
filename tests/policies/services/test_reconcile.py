"""Services around a reconcile: a person asking for one, the outbox sweep and the periodic resync."""

from datetime import timedelta

import pytest
from django.utils import timezone

from egressui.correlation import correlation_scope
from policies.choices import AuditEventType, ClusterStatus
from policies.exceptions import PermissionDenied
from policies.models import AuditEvent, ClusterSyncState, ReconcileRun
from policies.reconciler.loop import reconcile_cluster_for_task
from policies.services.reconcile import cluster_reconcile_request, reconcile_resync_all, reconcile_sweep_marked
from tests.factories import ClusterFactory, fixture_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "policies.tasks.reconcile_cluster_task.delay", lambda cluster_id, **kwargs: calls.append((cluster_id, kwargs))
    )
    return calls


class ClusterReconcileRequestTests:
    def test_queues_a_run_audits_marks_and_enqueues_it_after_commit(
        self, world, enqueued, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        assert run.outcome == ReconcileRun.Outcome.QUEUED and run.requested_by == world.admin
        assert run.trigger == "manual"
        assert enqueued == []  # nothing leaves before the commit
        for callback in callbacks:
            callback()
        assert enqueued == [(world.cluster.pk, {"trigger": "manual", "run_id": run.pk})]
        sync = ClusterSyncState.objects.get(cluster=world.cluster)
        assert sync.needs_reconcile and sync.mark_reason == "reconcile requested by admin"
        [event] = AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED)
        assert (event.actor, event.cluster_id, event.after) == (world.admin, world.cluster.pk, {"run": run.pk})

    def test_only_platform_admins(self, world, enqueued, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
            cluster_reconcile_request(cluster=world.cluster, actor=world.lead)
        assert not ReconcileRun.objects.exists() and enqueued == []
        assert not AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED).exists()

    def test_the_worker_fills_in_the_queued_run(self, world, enqueued, tmp_path):
        world.cluster.directory_path = str(tmp_path)
        fixture_save(world.cluster)
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        assert reconcile_cluster_for_task(world.cluster.pk, trigger="manual", run_id=run.pk).startswith(
            f"run #{run.pk}"
        )
        run.refresh_from_db()
        assert run.outcome == ReconcileRun.Outcome.SUCCEEDED and run.requested_by == world.admin
        assert "queued" in run.timings and ReconcileRun.objects.count() == 1

    def test_one_correlation_id_from_queue_to_finish(self, world, enqueued, tmp_path):
        """The run, the request's audit event and the worker's audit events share the id of the HTTP
        request that queued the run, although the worker runs under its own task id."""
        world.cluster.directory_path = str(tmp_path)
        fixture_save(world.cluster)
        with correlation_scope("a" * 32):
            run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        with correlation_scope("b" * 32):  # the Celery task's id
            reconcile_cluster_for_task(world.cluster.pk, trigger="manual", run_id=run.pk)
        run.refresh_from_db()
        assert run.correlation_id == "a" * 32
        events = AuditEvent.objects.filter(cluster=world.cluster)
        assert events.filter(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED).get().correlation_id == "a" * 32
        worker_events = events.exclude(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED)
        assert worker_events.exists()
        assert set(worker_events.values_list("correlation_id", flat=True)) == {"a" * 32}

    def test_a_sweep_run_claims_a_queued_run_whose_message_was_lost(self, world, enqueued, tmp_path):
        world.cluster.directory_path = str(tmp_path)
        fixture_save(world.cluster)
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        reconcile_cluster_for_task(world.cluster.pk, trigger="sweep")
        run.refresh_from_db()
        assert run.outcome == ReconcileRun.Outcome.SUCCEEDED and run.trigger == "manual"
        assert ReconcileRun.objects.count() == 1


class SweepTests:
    def test_enqueues_marked_clusters_only(self, world, enqueued):
        other = ClusterFactory()
        ClusterSyncState.objects.filter(cluster=world.cluster).update(needs_reconcile=True, marked_at=timezone.now())
        assert reconcile_sweep_marked() == 1
        assert enqueued == [(world.cluster.pk, {"trigger": "sweep"})]
        assert other.pk not in [cluster_id for cluster_id, _ in enqueued]

    def test_a_recently_failed_cluster_is_left_to_its_backoff_unless_marked_again(self, world, enqueued):
        now = timezone.now()
        ClusterSyncState.objects.filter(cluster=world.cluster).update(
            needs_reconcile=True,
            marked_at=now - timedelta(minutes=2),
            status=ClusterStatus.DEGRADED,
            last_attempt_at=now - timedelta(minutes=1),
        )
        assert reconcile_sweep_marked(now=now) == 0
        assert reconcile_sweep_marked(now=now + timedelta(minutes=5)) == 1  # the backoff is over
        ClusterSyncState.objects.filter(cluster=world.cluster).update(marked_at=now)  # a new change
        assert reconcile_sweep_marked(now=now) == 1

    def test_resync_enqueues_every_cluster(self, world, enqueued):
        other = ClusterFactory()
        assert reconcile_resync_all() == 2
        assert sorted(enqueued) == sorted(
            [(world.cluster.pk, {"trigger": "resync"}), (other.pk, {"trigger": "resync"})]
        )
