"""The cluster admin's actions: connection test and reconcile now."""

import pytest

from policies.choices import AuditEventType
from policies.models import AuditEvent, ReconcileRun
from tests.policies.reconciler.conftest import point_at

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/policies/cluster/"


def act(client, action, cluster):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [cluster.pk], "index": 0}, follow=True)


class ClusterAdminActionTests:
    def test_connection_test_reports_each_missing_permission(self, client, world, kube):
        point_at(world.cluster, kube.url)
        client.force_login(world.admin)
        page = act(client, "test_connection", world.cluster).content.decode()
        assert f"Cluster {world.cluster.name}: ready to reconcile (v1.26.4+k3s1)." in page
        kube.denied = {("networking.k8s.io", "networkpolicies", "delete")}
        page = act(client, "test_connection", world.cluster).content.decode()
        assert "not ready — missing permission: delete networkpolicies.networking.k8s.io" in page

    def test_reconcile_now_queues_an_audited_run(self, client, world, django_capture_on_commit_callbacks):
        client.force_login(world.admin)
        with django_capture_on_commit_callbacks() as callbacks:
            page = act(client, "reconcile_now", world.cluster).content.decode()
        run = ReconcileRun.objects.get()
        assert f"Cluster {world.cluster.name}: reconcile run #{run.pk} queued." in page
        assert run.outcome == ReconcileRun.Outcome.QUEUED and run.requested_by == world.admin
        assert AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED).count() == 1
        assert len(callbacks) == 1  # the task is sent after the commit
