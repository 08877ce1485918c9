"""The Kubernetes target against a real HTTP API (the emulator) through the official client."""

import copy

import pytest

from policies.manifests import content_hash
from policies.manifests.kinds import KIND_BY_NAME
from policies.reconciler.cluster import KubernetesTarget
from policies.reconciler.errors import KindNotServed, ObjectFailed, TargetUnavailable
from policies.reconciler.resources import key_of
from tests.policies.reconciler.conftest import point_at

pytestmark = pytest.mark.django_db

SE = KIND_BY_NAME["ServiceEntry"]


def service_entry(name="api-example-com", *, cluster="cluster-a", namespace="istio-egress", hosts=("api.example.com",)):
    body = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "egressui", "egressui.io/cluster": cluster},
            "annotations": {"egressui.io/grants": "1"},
        },
        "spec": {"hosts": list(hosts), "location": "MESH_EXTERNAL", "resolution": "DNS"},
    }
    body["metadata"]["annotations"]["egressui.io/content-hash"] = content_hash(body)
    return body


@pytest.fixture
def target(world, kube):
    world.cluster.name = "cluster-a"
    point_at(world.cluster, kube.url)
    sleeps = []
    target = KubernetesTarget(world.cluster, sleep=sleeps.append)
    target.sleeps = sleeps
    yield target
    target.close()


class KubernetesTargetTests:
    def test_apply_is_server_side_apply_with_our_field_manager_strict_and_forced(self, target, kube):
        target.apply(service_entry(), create=True)
        [get, apply] = kube.calls
        assert (get.verb, get.status) == ("get", 404)  # a create first checks nobody else owns the name
        assert apply.verb == "apply"
        assert apply.params == {"fieldManager": "egressui", "fieldValidation": "Strict", "force": "true"}
        live = kube.get("serviceentries", "istio-egress", "api-example-com")
        assert live["spec"]["hosts"] == ["api.example.com"]
        assert live["metadata"]["managedFields"][0]["manager"] == "egressui"
        assert kube._requests[-1].headers["Authorization"] == "Bearer test-token"  # the stored token

    def test_apply_removes_fields_we_no_longer_set_and_keeps_other_managers_fields(self, target, kube):
        first = service_entry()
        first["spec"]["exportTo"] = [".", "payments"]
        target.apply(first)
        kube.edit("serviceentries", "istio-egress", "api-example-com", {"metadata": {"labels": {"team": "x"}}})
        target.apply(service_entry())
        live = kube.get("serviceentries", "istio-egress", "api-example-com")
        assert "exportTo" not in live["spec"]
        assert live["metadata"]["labels"]["team"] == "x"

    def test_list_uses_our_label_selector_one_call_per_kind(self, target, kube):
        target.apply(service_entry("ours"))
        target.apply(service_entry("other-cluster", cluster="cluster-b"))
        unlabelled = service_entry("hand-made")
        unlabelled["metadata"]["labels"] = {}
        kube.create("serviceentries", unlabelled)
        kube.reset_calls()
        live = target.list_managed(SE)
        assert [key.name for key in live] == ["ours"]
        [call] = kube.calls
        assert call.verb == "list" and call.namespace is None
        assert call.params["labelSelector"] == "app.kubernetes.io/managed-by=egressui,egressui.io/cluster=cluster-a"

    def test_create_refuses_to_adopt_an_object_without_our_labels(self, target, kube):
        unlabelled = service_entry()
        unlabelled["metadata"]["labels"] = {"owner": "someone"}
        kube.create("serviceentries", unlabelled)
        with pytest.raises(ObjectFailed, match="without egressui's labels"):
            target.apply(service_entry(), create=True)
        assert kube.writes() == []
        assert kube.get("serviceentries", "istio-egress", "api-example-com")["metadata"]["labels"] == {
            "owner": "someone"
        }

    def test_transient_statuses_are_retried_with_backoff(self, target, kube):
        kube.fail("apply", status=429, times=1)
        kube.fail("apply", status=503, times=1)
        target.apply(service_entry())
        assert [c.status for c in kube.calls] == [429, 503, 201]
        assert len(target.sleeps) == 2 and target.sleeps[0] == 0  # Retry-After: 0 from the 429 wins
        assert target.calls["apply"] == 3

    def test_conflict_409_is_retried(self, target, kube):
        kube.fail("apply", status=409, times=2, message="the object has been modified")
        target.apply(service_entry())
        assert [c.status for c in kube.calls] == [409, 409, 201]

    def test_persistent_5xx_becomes_a_transient_object_failure(self, target, kube):
        kube.fail("apply", status=500, times=None, message="etcd is sad")
        with pytest.raises(ObjectFailed) as failure:
            target.apply(service_entry())
        assert failure.value.transient and failure.value.message == (
            "HTTP 500 InternalError while applying ServiceEntry istio-egress/api-example-com"
        )
        assert target.calls["apply"] == 4  # 1 + 3 retries

    @pytest.mark.parametrize("status", [400, 422])
    def test_invalid_object_is_permanent_with_status_and_reason_not_the_servers_text(self, target, kube, status):
        message = 'ServiceEntry.networking.istio.io "api-example-com" is invalid: spec.ports[0].number: Invalid value'
        kube.fail("apply", status=status, message=message)
        with pytest.raises(ObjectFailed) as failure:
            target.apply(service_entry())
        assert not failure.value.transient and failure.value.message.startswith(f"HTTP {status} ")
        assert failure.value.message.endswith("while applying ServiceEntry istio-egress/api-example-com")
        assert "is invalid" not in failure.value.message
        assert target.calls["apply"] == 1

    def test_forbidden_is_permanent(self, target, kube):
        kube.fail("apply", status=403, message='serviceentries is forbidden: User "x" cannot patch')
        with pytest.raises(ObjectFailed, match="^HTTP 403 Forbidden while applying ServiceEntry") as failure:
            target.apply(service_entry())
        assert not failure.value.transient and 'User "x"' not in failure.value.message

    def test_missing_namespace_is_named(self, target, kube):
        with pytest.raises(ObjectFailed, match="Namespace nowhere does not exist in the cluster"):
            target.apply(service_entry(namespace="nowhere"))

    def test_a_deleted_namespace_takes_its_objects_along_and_refuses_new_ones(self, target, kube):
        """The emulator as the API server behaves when someone runs `kubectl delete namespace`."""
        target.apply(service_entry(namespace="payments"))
        target.apply(service_entry(namespace="search"))
        kube.delete_namespace("payments")
        assert set(target.list_managed(SE)) == {key_of(service_entry(namespace="search"))}
        with pytest.raises(ObjectFailed, match="Namespace payments does not exist in the cluster") as failure:
            target.apply(service_entry(namespace="payments"))
        assert not failure.value.transient and failure.value.status == 404

    def test_timeouts_are_retried(self, target, kube, settings):
        settings.EGRESSUI_KUBE_TIMEOUT = 1
        slow = KubernetesTarget(target_cluster(target, kube), sleep=lambda _: None)
        kube.stall("list", seconds=5, times=1)  # far beyond the client's 1-s read timeout
        assert slow.list_managed(SE) == {}
        assert slow.calls["list"] >= 2  # the stalled call timed out, a retry answered
        assert kube.faults[-1].times == 0
        slow.close()

    def test_refused_connection_after_retries_is_a_transient_target_failure(self, world, fast_retries):
        point_at(world.cluster, "http://127.0.0.1:9")  # discard port: nothing listens
        unreachable = KubernetesTarget(world.cluster, sleep=lambda _: None)
        with pytest.raises(TargetUnavailable, match="Cannot reach the API server.*connection refused") as failure:
            unreachable.list_managed(SE)
        assert failure.value.transient
        assert unreachable.calls["list"] == 4

    def test_kind_not_served(self, target, kube):
        kube._kinds.pop(next(r for r in kube._kinds if r.plural == "serviceentries"))
        with pytest.raises(KindNotServed):
            target.list_managed(SE)

    def test_unauthorised(self, target, kube):
        kube.fail("list", status=401, message="Unauthorized")
        with pytest.raises(TargetUnavailable, match="rejected egressui's credentials") as failure:
            target.list_managed(SE)
        assert not failure.value.transient

    def test_delete_uses_the_listed_resource_version_as_precondition(self, target, kube):
        target.apply(service_entry())
        [live] = target.list_managed(SE).values()
        assert target.delete(key_of(live), live) is True
        delete = kube.calls[-1]
        assert delete.verb == "delete" and kube.get("serviceentries", "istio-egress", "api-example-com") is None

    def test_delete_of_an_object_changed_since_listing_rechecks_our_labels(self, target, kube):
        target.apply(service_entry())
        [live] = target.list_managed(SE).values()
        # Someone takes the object over: removes our labels after we listed it.
        kube.edit(
            "serviceentries",
            "istio-egress",
            "api-example-com",
            {"metadata": {"labels": {"app.kubernetes.io/managed-by": None, "egressui.io/cluster": None}}},
        )
        assert target.delete(key_of(live), live) is False
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is not None
        assert [c.verb for c in kube.calls[-2:]] == ["delete", "get"] and kube.calls[-2].status == 409

    def test_delete_of_an_object_still_ours_but_changed_is_retried_with_the_new_version(self, target, kube):
        target.apply(service_entry())
        [live] = target.list_managed(SE).values()
        kube.edit("serviceentries", "istio-egress", "api-example-com", {"metadata": {"labels": {"x": "y"}}})
        assert target.delete(key_of(live), copy.deepcopy(live)) is True
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None

    def test_dry_run_persists_nothing(self, target, kube):
        target.apply(service_entry(), dry_run=True, create=True)
        assert kube.calls[-1].dry_run and kube.calls[-1].params["dryRun"] == "All"
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None


def target_cluster(target, kube):
    from policies.models import Cluster

    return Cluster.objects.get(name=target.cluster_name)
