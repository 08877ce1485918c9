"""reconcile_run_finish: what a first sync records, and that recording it costs a number of queries
that does not grow with the number of objects."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies.choices import AppliedState, AuditEventType
from policies.models import AuditChainHead, AuditEvent, Grant, ManagedObject, ReconcileObjectResult
from policies.reconciler import loop
from policies.reconciler.loop import reconcile_cluster
from policies.reconciler.resources import ObjectKey, content_hash_of, key_of
from policies.selectors.audit import audit_chain_verify
from policies.selectors.manifests import desired_objects_for_cluster
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording_queries(monkeypatch) -> list[int]:
    """Queries made by each run's recording transaction."""
    counts: list[int] = []
    record = loop.reconcile_run_finish

    def counted(**kwargs):
        with CaptureQueriesContext(connection) as queries:
            run = record(**kwargs)
        counts.append(len(queries))
        return run

    monkeypatch.setattr(loop, "reconcile_run_finish", counted)
    return counts


def grants_for(world, count: int, first: int = 0) -> list[Grant]:
    return [
        GrantFactory(identity=identity, host=f"h{index}.example.com")
        for index in range(first, first + count)
        for identity in (world.checkout, world.indexer)
    ]


class FirstSyncRecordingTests:
    def test_records_one_result_inventory_row_and_event_per_object_and_a_verifying_chain(
        self, world, api_cluster, kube
    ):
        grants = grants_for(world, 3)
        desired = {key_of(obj): obj for obj in desired_objects_for_cluster(api_cluster)}
        run = reconcile_cluster(api_cluster.pk, trigger="test")

        results = {(r.kind, r.namespace, r.name): r for r in ReconcileObjectResult.objects.filter(run=run)}
        assert set(results) == set(desired) and {r.action for r in results.values()} == {"created"}
        inventory = ManagedObject.objects.filter(cluster=api_cluster)
        assert {(m.kind, m.namespace, m.name): m.content_hash for m in inventory} == {
            key: content_hash_of(obj) for key, obj in desired.items()
        }
        assert all(m.updated_at is not None for m in inventory)

        # Each object event names its result row (pk and text) and carries the object's hash and grants.
        created = list(AuditEvent.objects.filter(event_type=AuditEventType.OBJECT_CREATED).order_by("seq"))
        by_pk = {str(r.pk): r for r in results.values()}
        assert len(created) == len(desired)
        for event in created:
            row = by_pk[event.subject_id]
            assert (event.subject_type, event.subject_repr) == ("reconcileobjectresult", str(row))
            assert event.before is None and AuditEvent.objects.filter(pk=event.pk, before__isnull=True).exists()
            obj = desired[ObjectKey(row.kind, row.namespace, row.name)]
            assert event.after["content_hash"] == content_hash_of(obj)
        applied = AuditEvent.objects.filter(event_type=AuditEventType.GRANT_APPLIED_STATE)
        assert {e.subject_id for e in applied} == {str(g.pk) for g in grants}
        assert {e.after["applied_state"] for e in applied} == {AppliedState.APPLIED}
        assert AuditEvent.objects.filter(event_type=AuditEventType.RECONCILE_FINISHED).count() == 1

        head = AuditChainHead.objects.get()
        assert head.last_seq == AuditEvent.objects.count() == len(desired) + len(grants) + 1
        assert audit_chain_verify().ok
        assert "record" in run.timings

    def test_recording_queries_do_not_grow_with_the_objects(self, world, api_cluster, kube, recording_queries):
        grants_for(world, 2)
        reconcile_cluster(api_cluster.pk, trigger="test")
        small = ReconcileObjectResult.objects.count()
        grants_for(world, 40, first=2)
        reconcile_cluster(api_cluster.pk, trigger="test")
        assert ReconcileObjectResult.objects.count() > 5 * small
        assert recording_queries[1] <= recording_queries[0] + 1, recording_queries
