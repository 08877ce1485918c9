"""The reconcile outbox: the mark is in the database, the Celery message is only a trigger."""

import pytest

from policies.models import ClusterSyncState
from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create
from policies.tasks import reconcile_cluster_task, sweep_marked_clusters_task

pytestmark = pytest.mark.django_db


class OutboxTests:
    def test_enqueued_only_after_commit(self, world, django_capture_on_commit_callbacks, monkeypatch):
        sent = []
        monkeypatch.setattr(
            reconcile_cluster_task, "delay", lambda cluster_id, trigger: sent.append((cluster_id, trigger))
        )
        ClusterSyncState.objects.update(needs_reconcile=False)
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            egress_request_approve(request=request, approver=world.lead)
            assert sent == []
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        for callback in callbacks:
            callback()
        assert (world.cluster.pk, "change") in sent

    def test_broker_down_keeps_the_mark_and_the_change(
        self, world, django_capture_on_commit_callbacks, monkeypatch, caplog
    ):
        def broker_down(*args, **kwargs):
            raise ConnectionRefusedError("broker unreachable")

        monkeypatch.setattr(reconcile_cluster_task, "delay", broker_down)
        ClusterSyncState.objects.update(needs_reconcile=False)
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with django_capture_on_commit_callbacks(execute=True):
            egress_request_approve(request=request, approver=world.lead)
        request.refresh_from_db()
        assert request.status == "approved" and request.grants.count() == 1
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        assert "the sweep will pick it up" in caplog.text

    def test_sweep_enqueues_marked_clusters(self, world, monkeypatch):
        sent = []
        monkeypatch.setattr(
            reconcile_cluster_task, "delay", lambda cluster_id, trigger: sent.append((cluster_id, trigger))
        )
        ClusterSyncState.objects.update(needs_reconcile=False)
        ClusterSyncState.objects.filter(cluster=world.cluster).update(needs_reconcile=True)
        assert sweep_marked_clusters_task.apply().get() == 1
        assert sent == [(world.cluster.pk, "sweep")]
