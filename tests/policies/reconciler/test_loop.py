"""reconcile_cluster against a real HTTP Kubernetes API (the emulator, strict CRD validation), asserting
the API calls it makes, what it records, and what it never touches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.choices import AppliedState, AuditEventType, ClusterStatus, GrantStatus
from policies.manifests.kinds import KINDS, kinds_for_mode
from policies.models import AuditEvent, ClusterSyncState, ManagedObject, ReconcileLease, ReconcileRun
from policies.reconciler import loop
from policies.reconciler.errors import ReconcileBusy, ReconcileRetry
from policies.reconciler.locks import DatabaseLease
from policies.reconciler.loop import reconcile_cluster, reconcile_cluster_for_task
from policies.reconciler.resources import ObjectKey, key_of
from policies.selectors.manifests import desired_objects_for_cluster
from policies.services.grants import grant_revoke
from policies.services.outbox import cluster_mark_for_reconcile
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db

PLURAL = {info.kind: info.plural for info in KINDS}
ISTIO_KINDS = kinds_for_mode("istio")  # what an Istio cluster is listed for


@pytest.fixture
def grants(world, api_cluster):
    return {
        "stripe-checkout": GrantFactory(identity=world.checkout, host="api.stripe.com"),
        "stripe-refunds": GrantFactory(identity=world.refunds, host="api.stripe.com"),
        "hooks-checkout": GrantFactory(identity=world.checkout, host="hooks.example.org"),
        "search-indexer": GrantFactory(identity=world.indexer, host="search.example.com"),
    }


def run(cluster, trigger="test", **kwargs) -> ReconcileRun:
    return reconcile_cluster(cluster.pk, trigger=trigger, **kwargs)


def desired_keys(cluster) -> dict:
    return {key_of(obj): obj for obj in desired_objects_for_cluster(cluster)}


def written(kube) -> set[tuple]:
    return {(call.verb, call.plural, call.namespace, call.name) for call in kube.writes()}


def events(event_type) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("seq"))


class FirstAndSecondRunTests:
    def test_first_run_creates_every_object_and_a_second_run_makes_zero_writes(self, api_cluster, grants, kube):
        desired = desired_keys(api_cluster)
        first = run(api_cluster)
        assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, first.error
        assert (first.created, first.updated, first.deleted, first.failed) == (len(desired), 0, 0, 0)
        assert kube.count("list") == len(ISTIO_KINDS)
        assert written(kube) == {("apply", PLURAL[k.kind], k.namespace, k.name) for k in desired}
        assert first.api_calls["list"] == len(ISTIO_KINDS) and first.api_calls["apply"] == len(desired)
        for key, obj in desired.items():
            live = kube.get(PLURAL[key.kind], key.namespace, key.name)
            assert live["spec"] == obj["spec"] and live["metadata"]["labels"] == obj["metadata"]["labels"]

        kube.reset_calls()
        second = run(api_cluster)
        assert kube.writes() == []
        assert [c.verb for c in kube.calls] == ["list"] * len(ISTIO_KINDS)
        assert (second.created, second.updated, second.deleted, second.unchanged) == (0, 0, 0, len(desired))
        assert second.results.count() == 0  # unchanged objects are counted, not stored one by one

    def test_records_grants_status_outbox_inventory_and_audit(self, api_cluster, grants, kube):
        ClusterSyncState.objects.filter(cluster=api_cluster).update(needs_reconcile=True, marked_at=timezone.now())
        first = run(api_cluster)
        desired = desired_keys(api_cluster)
        for grant in grants.values():
            grant.refresh_from_db()
            assert grant.applied_state == AppliedState.APPLIED and grant.applied_at is not None
        sync = ClusterSyncState.objects.get(cluster=api_cluster)
        assert (sync.status, sync.needs_reconcile, sync.last_error) == (ClusterStatus.READY, False, "")
        assert sync.observed_hash == first.desired_hash and sync.last_success_at is not None
        assert ManagedObject.objects.filter(cluster=api_cluster).count() == len(desired)
        created = events(AuditEventType.OBJECT_CREATED)
        assert len(created) == len(desired)
        assert {(e.actor_id, e.actor_repr, e.cluster_id) for e in created} == {(None, "reconciler", api_cluster.pk)}
        assert len(events(AuditEventType.GRANT_APPLIED_STATE)) == len(grants)
        [finished] = events(AuditEventType.RECONCILE_FINISHED)
        assert finished.after["outcome"] == "succeeded"
        assert set(first.timings) == {"desired", "list", "write", "record"}

        before = AuditEvent.objects.count()
        run(api_cluster)
        assert AuditEvent.objects.count() == before  # nothing happened, nothing to audit


class ChangeTests:
    def test_revoking_one_grant_changes_only_the_objects_of_its_host_and_namespace(
        self, world, api_cluster, grants, kube
    ):
        run(api_cluster)
        before = desired_keys(api_cluster)
        grant_revoke(grant=grants["hooks-checkout"], actor=world.lead, reason="no longer needed")
        after = desired_keys(api_cluster)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert changed and all(
            "hooks-example-org" in k.name or k.namespace == "payments" or k.kind == "Sidecar" for k in changed
        )
        kube.reset_calls()
        result = run(api_cluster)
        expected = {("delete" if k not in after else "apply", PLURAL[k.kind], k.namespace, k.name) for k in changed}
        assert written(kube) == expected
        assert result.deleted == sum(1 for k in changed if k not in after)
        assert not any(k.name == "hooks-example-org" for k in after)
        assert kube.get("serviceentries", "istio-egress", "api-stripe-com") is not None
        revoked = grants["hooks-checkout"]
        revoked.refresh_from_db()
        assert revoked.status == GrantStatus.REVOKED and revoked.applied_state == AppliedState.REMOVED
        assert {e.after["name"] for e in events(AuditEventType.OBJECT_DELETED)} == {
            k.name for k in changed if k not in after
        }

    def test_objects_without_our_labels_are_never_touched(self, api_cluster, grants, kube):
        desired = desired_keys(api_cluster)
        se = next(obj for key, obj in desired.items() if key.kind == "ServiceEntry")
        look_alike = {**se, "metadata": {"name": "api-old-example-com", "namespace": "istio-egress", "labels": {}}}
        other_cluster = {
            **se,
            "metadata": {
                "name": "api-other-example-com",
                "namespace": "istio-egress",
                "labels": {"app.kubernetes.io/managed-by": "egressui", "egressui.io/cluster": "another-cluster"},
            },
        }
        squatter = {**se, "metadata": {**se["metadata"], "labels": {"owner": "platform-team"}}}
        for obj in (look_alike, other_cluster, squatter):
            kube.create("serviceentries", obj)
        result = run(api_cluster)
        touched = {(c.plural, c.name) for c in kube.writes()}
        assert ("serviceentries", "api-old-example-com") not in touched
        assert ("serviceentries", "api-other-example-com") not in touched
        assert ("serviceentries", squatter["metadata"]["name"]) not in touched
        assert kube.get("serviceentries", "istio-egress", squatter["metadata"]["name"])["metadata"]["labels"] == {
            "owner": "platform-team"
        }
        [failure] = result.results.filter(action="failed")
        assert failure.name == squatter["metadata"]["name"] and "without egressui's labels" in failure.message
        assert result.outcome == ReconcileRun.Outcome.PARTIAL and result.created == len(desired) - 1
        assert kube.count("create") == 0  # namespaces (or anything) are never created with POST

    def test_many_creates_check_names_with_one_list_per_kind_instead_of_a_get_each(self, world, api_cluster, kube):
        for index in range(25):
            GrantFactory(identity=world.checkout, host=f"api{index}.example.com")
        squatter = {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "api7-example-com", "namespace": "istio-egress", "labels": {"team": "x"}},
            "spec": {"hosts": ["api7.example.com"]},
        }
        kube.create("serviceentries", squatter)
        result = run(api_cluster)
        gets = {c.plural for c in kube.calls if c.verb == "get"}
        assert gets == {"sidecars", "networkpolicies", "telemetries"}  # kinds with few creates: one GET each
        metadata_lists = [c for c in kube.calls if c.verb == "list" and "labelSelector" not in c.params]
        assert sorted(c.plural for c in metadata_lists) == sorted(
            ["serviceentries", "destinationrules", "gateways", "authorizationpolicies", "virtualservices"]
        )
        [failure] = result.results.filter(action="failed")
        assert failure.name == "api7-example-com" and "without egressui's labels" in failure.message
        assert kube.get("serviceentries", "istio-egress", "api7-example-com")["metadata"]["labels"] == {"team": "x"}

    def test_nothing_desired_deletes_only_our_objects(self, world, api_cluster, grants, kube):
        run(api_cluster)
        kube.create(
            "serviceentries",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "ServiceEntry",
                "metadata": {"name": "kept", "namespace": "istio-egress"},
                "spec": {"hosts": ["kept.example.com"]},
            },
        )
        for grant in grants.values():
            grant_revoke(grant=grant, actor=world.admin, reason="shutting down")
        result = run(api_cluster)
        # What stays serves no grant: the gateway's policy and Telemetry, each enforced namespace's lockdown.
        still_desired = desired_keys(api_cluster)
        assert not {k for k in still_desired if k.namespace == "istio-egress"} - {
            ObjectKey("NetworkPolicy", "istio-egress", "egressui-gateway-ingress"),
            ObjectKey("Telemetry", "istio-egress", "egressui-gateway-access-log"),
        }
        assert {k.kind for k in still_desired if k.namespace == "payments"} == {"NetworkPolicy", "Sidecar", "Telemetry"}
        expected = {(PLURAL[k.kind], k.namespace, k.name) for k in still_desired}
        assert set(kube.live()) == expected | {("serviceentries", "istio-egress", "kept")}
        assert result.deleted > 0 and ManagedObject.objects.count() == len(still_desired)
        deletes = [c.plural for c in kube.writes() if c.verb == "delete"]
        order = [info.plural for info in reversed(ISTIO_KINDS)]
        assert deletes == sorted(deletes, key=order.index)  # break in reverse apply order


class DriftTests:
    def test_an_edited_object_is_repaired_by_the_resync_and_audited(self, api_cluster, grants, kube):
        run(api_cluster)
        name = "api-stripe-com"
        live = kube.get("authorizationpolicies", "istio-egress", name)
        rules = live["spec"]["rules"]
        rules[0]["from"][0]["source"]["principals"].append("cluster.local/ns/evil/sa/intruder")
        kube.edit("authorizationpolicies", "istio-egress", name, {"spec": {"rules": rules}})
        kube.reset_calls()
        result = run(api_cluster, trigger="resync")
        assert written(kube) == {("apply", "authorizationpolicies", "istio-egress", name)}
        repaired = kube.get("authorizationpolicies", "istio-egress", name)
        assert "cluster.local/ns/evil/sa/intruder" not in str(repaired["spec"])
        [row] = result.results.all()
        assert (row.action, row.drift) == ("updated", True) and "edited behind our back" in row.message
        [event] = events(AuditEventType.OBJECT_DRIFT_REPAIRED)
        assert event.actor_repr == "reconciler" and event.after["name"] == name and "principals" in event.message

    def test_change_runs_compare_hashes_from_metadata_lists_and_leave_spec_edits_to_the_resync(
        self, api_cluster, grants, kube
    ):
        run(api_cluster)
        kube.edit("serviceentries", "istio-egress", "api-stripe-com", {"spec": {"resolution": "NONE"}})
        kube.reset_calls()
        run(api_cluster, trigger="change")
        lists = [c for c in kube.calls if c.verb == "list"]
        assert len(lists) == len(ISTIO_KINDS) and all(c.metadata_only for c in lists)
        assert kube.writes() == []
        kube.reset_calls()
        result = run(api_cluster, trigger="resync")
        assert not any(c.metadata_only for c in kube.calls)
        assert written(kube) == {("apply", "serviceentries", "istio-egress", "api-stripe-com")}
        assert result.results.get().message == "edited behind our back (spec.resolution differed)"
        assert kube.get("serviceentries", "istio-egress", "api-stripe-com")["spec"]["resolution"] == "DNS"

    def test_a_deleted_object_is_recreated_by_the_resync_and_audited(self, api_cluster, grants, kube):
        run(api_cluster)
        kube.remove("networkpolicies", "payments", "egressui-egress")
        kube.reset_calls()
        result = run(api_cluster, trigger="resync")
        assert written(kube) == {("apply", "networkpolicies", "payments", "egressui-egress")}
        assert result.created == 1
        [event] = events(AuditEventType.OBJECT_DRIFT_REPAIRED)
        assert event.message == "deleted behind our back"


class FailureTests:
    def test_a_422_on_one_object_leaves_the_rest_applied_and_the_failure_recorded(self, api_cluster, grants, kube):
        message = 'VirtualService.networking.istio.io "search-example-com" is invalid: spec.tcp[0]: Invalid value'
        kube.fail("apply", plural="virtualservices", name="search-example-com", status=422, message=message)
        desired = desired_keys(api_cluster)
        result = run(api_cluster)
        assert result.outcome == ReconcileRun.Outcome.PARTIAL
        assert (result.created, result.failed) == (len(desired) - 1, 1)
        [failure] = result.results.filter(action="failed")
        assert (failure.kind, failure.name) == ("VirtualService", "search-example-com")
        # Status and reason, never the server's own text (it may echo anything).
        message = "HTTP 422 Invalid while applying VirtualService istio-egress/search-example-com"
        assert failure.message == message
        indexer = grants["search-indexer"]
        indexer.refresh_from_db()
        assert indexer.applied_state == AppliedState.FAILED and message in indexer.applied_message
        grants["stripe-checkout"].refresh_from_db()
        assert grants["stripe-checkout"].applied_state == AppliedState.APPLIED
        sync = ClusterSyncState.objects.get(cluster=api_cluster)
        assert sync.status == ClusterStatus.DEGRADED and message in sync.last_error
        assert not sync.needs_reconcile  # permanent: retrying unchanged would not help
        [event] = events(AuditEventType.OBJECT_FAILED)
        assert event.message == message

        kube.reset_calls()  # the invalid object is fixed (fault gone): only it is written
        again = run(api_cluster)
        assert written(kube) == {("apply", "virtualservices", "istio-egress", "search-example-com")}
        assert again.outcome == ReconcileRun.Outcome.SUCCEEDED

    def test_transient_failures_keep_the_outbox_mark_and_ask_the_task_to_retry(self, api_cluster, grants, kube):
        ClusterSyncState.objects.filter(cluster=api_cluster).update(needs_reconcile=True, marked_at=timezone.now())
        kube.fail("apply", plural="gateways", status=503, times=None, message="apiserver overloaded")
        with pytest.raises(ReconcileRetry):
            reconcile_cluster_for_task(api_cluster.pk, trigger="change")
        latest = ReconcileRun.objects.latest("id")
        assert latest.outcome == ReconcileRun.Outcome.PARTIAL and latest.failed == 3  # one Gateway per host
        assert ClusterSyncState.objects.get(cluster=api_cluster).needs_reconcile
        assert kube.count("apply") > len(desired_keys(api_cluster))  # retried with backoff first

    def test_missing_crds_give_a_clear_cluster_status_and_no_writes(self, api_cluster, grants, kube):
        for resource in [r for r in kube._kinds if r.plural in ("authorizationpolicies", "telemetries")]:
            del kube._kinds[resource]
        result = run(api_cluster)
        assert result.outcome == ReconcileRun.Outcome.FAILED and kube.writes() == []
        assert result.error.startswith(
            "The cluster does not serve AuthorizationPolicy (security.istio.io/v1), Telemetry (telemetry.istio.io/v1)"
        )
        sync = ClusterSyncState.objects.get(cluster=api_cluster)
        assert sync.status == ClusterStatus.DEGRADED and sync.status_message == result.error
        grant = grants["stripe-checkout"]
        grant.refresh_from_db()
        # The team sees that it failed; why (the cluster's connection) is for platform admins (issue 12).
        assert grant.applied_state == AppliedState.FAILED and "a platform admin can see why" in grant.applied_message

    def test_a_missing_namespace_fails_its_objects_only_and_is_never_created(self, api_cluster, grants, kube):
        kube.objects["v1/namespaces", None, "search"].delete()
        result = run(api_cluster)
        failed = {(r.kind, r.namespace): r.message for r in result.results.filter(action="failed")}
        assert set(failed) == {("NetworkPolicy", "search"), ("Sidecar", "search"), ("Telemetry", "search")}
        assert set(failed.values()) == {"Namespace search does not exist in the cluster."}
        assert kube.count("create") == 0
        assert kube.get("serviceentries", "istio-egress", "api-stripe-com") is not None

    def test_a_namespace_deleted_in_the_cluster_does_not_hold_up_the_others(self, world, api_cluster, grants, kube):
        """Someone deletes a team's namespace (and so its lockdown) while egressui still manages it: the
        run writes everything else, reports that namespace's objects as failed with the reason, and
        is not retried as if the failure were transient; the next change elsewhere still converges."""
        run(api_cluster)
        kube.delete_namespace("search")
        new = GrantFactory(identity=world.checkout, host="api.adyen.com")
        kube.reset_calls()
        result = run(api_cluster)
        assert result.outcome == ReconcileRun.Outcome.PARTIAL
        failed = {(r.kind, r.namespace) for r in result.results.filter(action="failed")}
        assert failed == {("NetworkPolicy", "search"), ("Sidecar", "search"), ("Telemetry", "search")}
        assert kube.get("virtualservices", "istio-egress", "api-adyen-com") is not None
        assert "istio-egress/api.adyen.com" in str(kube.get("sidecars", "payments", "default")["spec"])
        new.refresh_from_db()
        grants["search-indexer"].refresh_from_db()
        assert new.applied_state == AppliedState.APPLIED
        assert grants["search-indexer"].applied_state == AppliedState.FAILED  # its namespace's lockdown is gone
        assert reconcile_cluster_for_task(api_cluster.pk, trigger="change").startswith("run #")  # no retry raised

    def test_an_unreachable_cluster_fails_the_run_transiently(self, api_cluster, grants, kube):
        api_cluster.api_url = "http://127.0.0.1:9"
        fixture_save(api_cluster)
        with pytest.raises(ReconcileRetry):
            reconcile_cluster_for_task(api_cluster.pk, trigger="change")
        latest = ReconcileRun.objects.latest("id")
        assert latest.outcome == ReconcileRun.Outcome.FAILED and "connection refused" in latest.error
        sync = ClusterSyncState.objects.get(cluster=api_cluster)
        assert sync.status == ClusterStatus.DEGRADED and "Cannot reach the API server" in sync.status_message
        grants["stripe-checkout"].refresh_from_db()
        assert grants["stripe-checkout"].applied_state == AppliedState.PENDING  # not failed: just waiting


class ConcurrencyTests:
    def test_a_worker_killed_mid_run_is_followed_by_a_run_that_converges(self, api_cluster, grants, kube, monkeypatch):
        """The first worker dies after some writes: its lease is never released, its run stays
        `running`, the outbox mark stays set and (late ack) the message is delivered again."""
        ClusterSyncState.objects.filter(cluster=api_cluster).update(needs_reconcile=True, marked_at=timezone.now())
        desired = desired_keys(api_cluster)

        class Killed(BaseException):
            pass

        real_write, writes = loop._write, []

        def dying_write(target, change, *args):
            if len(writes) == 5:
                raise Killed()
            writes.append(change.key)
            return real_write(target, change, *args)

        monkeypatch.setattr(loop, "_write", dying_write)
        monkeypatch.setattr(DatabaseLease, "_release", lambda self: None)  # a dead process releases nothing
        with pytest.raises(Killed):
            reconcile_cluster_for_task(api_cluster.pk, trigger="change")
        monkeypatch.undo()
        assert 0 < len(kube.live()) < len(desired)
        [dead] = ReconcileRun.objects.all()
        assert dead.outcome == ReconcileRun.Outcome.RUNNING

        # Redelivered while the dead worker's lease is still valid: coalesced, nothing written.
        kube.reset_calls()
        assert reconcile_cluster_for_task(api_cluster.pk, trigger="change") == "coalesced into the running reconcile"
        assert kube.calls == []

        # Once the lease has expired, the next delivery takes over and converges.
        ReconcileLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert reconcile_cluster_for_task(api_cluster.pk, trigger="change").startswith("run #")
        dead.refresh_from_db()
        assert dead.outcome == ReconcileRun.Outcome.FAILED and "stopped" in dead.error
        latest = ReconcileRun.objects.latest("id")
        assert latest.outcome == ReconcileRun.Outcome.SUCCEEDED
        assert latest.unchanged == 5 and latest.created == len(desired) - 5
        assert set(kube.live()) == {(PLURAL[k.kind], k.namespace, k.name) for k in desired}
        assert not ClusterSyncState.objects.get(cluster=api_cluster).needs_reconcile

    def test_a_busy_cluster_coalesces_plain_triggers_and_delays_queued_runs(self, api_cluster, grants, kube):
        holder = DatabaseLease(api_cluster.pk)
        assert holder.acquire()
        with pytest.raises(ReconcileBusy):
            run(api_cluster)
        assert reconcile_cluster_for_task(api_cluster.pk, trigger="change") == "coalesced into the running reconcile"
        with pytest.raises(ReconcileRetry):
            reconcile_cluster_for_task(api_cluster.pk, trigger="manual", run_id=123)
        holder.release()
        assert run(api_cluster).outcome == ReconcileRun.Outcome.SUCCEEDED

    def test_a_mark_made_during_a_run_keeps_the_flag_and_enqueues_another_run(
        self, api_cluster, grants, kube, monkeypatch
    ):
        ClusterSyncState.objects.filter(cluster=api_cluster).update(needs_reconcile=True, marked_at=timezone.now())
        enqueued = []
        monkeypatch.setattr(
            "policies.reconciler.loop.enqueue_reconcile", lambda ids, **kw: enqueued.append((list(ids), kw))
        )
        real_desired = loop.desired_state

        def desired_then_mark(cluster):
            desired = real_desired(cluster)
            cluster_mark_for_reconcile(cluster_ids=[api_cluster.pk], reason="grant approved meanwhile", enqueue=False)
            return desired

        monkeypatch.setattr(loop, "desired_state", desired_then_mark)
        run(api_cluster)
        assert ClusterSyncState.objects.get(cluster=api_cluster).needs_reconcile
        assert enqueued == [([api_cluster.pk], {"trigger": "follow-up"})]


class DryRunTests:
    def test_dry_run_asks_the_server_and_persists_nothing(self, api_cluster, grants, kube):
        ClusterSyncState.objects.filter(cluster=api_cluster).update(needs_reconcile=True, marked_at=timezone.now())
        desired = desired_keys(api_cluster)
        result = run(api_cluster, dry_run=True)
        assert result.dry_run and result.created == len(desired)
        applies = [c for c in kube.calls if c.verb == "apply"]
        assert len(applies) == len(desired) and all(c.params.get("dryRun") == "All" for c in applies)
        assert kube.live() == {} and kube.writes() == []
        assert not ManagedObject.objects.exists()
        assert not AuditEvent.objects.filter(event_type__gte=420, event_type__lt=440).exists()
        assert ClusterSyncState.objects.get(cluster=api_cluster).needs_reconcile
        grants["stripe-checkout"].refresh_from_db()
        assert grants["stripe-checkout"].applied_state == AppliedState.PENDING


class DiscoveryTests:
    def test_the_resync_records_service_accounts_of_team_namespaces(self, api_cluster, grants, kube, world):
        kube.add_service_account("payments", "payouts")
        kube.add_service_account("payments", "checkout")
        kube.add_service_account("kube-system", "coredns")  # no team owns it: ignored
        run(api_cluster, trigger="resync")
        identities = set(world.ns.identities.filter(discovered=True).values_list("service_account", flat=True))
        assert identities == {"payouts", "checkout"}
        assert not api_cluster.namespaces.filter(name="kube-system").exists()
