"""A cluster in enforcement mode `cilium` reconciled through the emulator, with strict validation
against Cilium's CRD: only CiliumNetworkPolicies are listed and written, a second run writes
nothing, a switch from istio to cilium removes the Istio objects, and a request's preview is
dry-run on the API server."""

import json
import urllib.error
import urllib.request

import pytest
from django.core.cache import cache

from policies.models import ReconcileRun
from policies.reconciler.loop import reconcile_cluster
from policies.selectors.manifests import desired_objects_for_cluster
from policies.services.requests import egress_request_create
from tests.factories import GrantFactory, fixture_save
from tests.policies.views.test_preview_server_check import api
from tests.support.manifest_validation import CILIUM_CRDS_MISSING, cilium_crds_path

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(cilium_crds_path() is None, reason=CILIUM_CRDS_MISSING),
]


def run(cluster) -> ReconcileRun:
    return reconcile_cluster(cluster.pk, trigger="test")


def _grants(world):
    GrantFactory(identity=world.checkout, host="api.stripe.com")
    GrantFactory(identity=world.checkout, host="*.github.com")
    GrantFactory(identity=world.refunds, host="203.0.113.0/29", port=5432, protocol="tcp")
    GrantFactory(identity=world.indexer, host="plain.example.com", port=80, protocol="http")


class CiliumReconcileTests:
    def test_first_run_applies_policies_validly_and_the_second_writes_nothing(self, world, api_cluster, kube):
        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        _grants(world)
        desired = desired_objects_for_cluster(api_cluster)
        assert {o["kind"] for o in desired} == {"CiliumNetworkPolicy"}
        first = run(api_cluster)
        assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, first.error
        assert first.created == len(desired) == 2 and first.failed == 0
        assert [c.plural for c in kube.calls if c.verb == "list"] == ["ciliumnetworkpolicies"]
        live = kube.live("ciliumnetworkpolicies")
        assert set(live) == {("ciliumnetworkpolicies", ns, "egressui-egress") for ns in ("payments", "search")}
        for obj in desired:
            stored = live[("ciliumnetworkpolicies", obj["metadata"]["namespace"], "egressui-egress")]
            assert stored["specs"] == obj["specs"]

        kube.reset_calls()
        second = run(api_cluster)
        assert kube.writes() == [] and second.unchanged == 2

    def test_strict_validation_names_unknown_fields_and_oneof_violations(self, world, api_cluster, kube):
        from tests.support.kube import strict_validator
        from tests.support.manifest_validation import default_validator

        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        _grants(world)
        [obj, *_] = desired_objects_for_cluster(api_cluster)
        obj["specs"][1]["egress"][0]["toFQDNs"][0]["matchPattern"] = "*.x.com"  # matchName and matchPattern
        obj["specs"][0]["bogus"] = True
        found = strict_validator(default_validator())(obj)
        assert found.unknown == [".specs[0].bogus"]
        [(path, cause)] = found.causes
        assert path == "specs[1].egress[0].toFQDNs[0]" and "is valid under each of" in cause
        del obj["specs"][0]["bogus"]  # over HTTP, a server-side apply with only the invalid value: 422
        url = f"{kube.url}/apis/cilium.io/v2/namespaces/payments/ciliumnetworkpolicies/egressui-egress"
        request = urllib.request.Request(
            f"{url}?fieldManager=egressui&fieldValidation=Strict",
            data=json.dumps(obj).encode(),
            method="PATCH",
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 422 and "is valid under each of" in refused.value.read().decode()
        assert kube.live("ciliumnetworkpolicies") == {}

    def test_switching_from_istio_to_cilium_removes_the_istio_objects(self, world, api_cluster, kube):
        _grants(world)
        assert run(api_cluster).outcome == ReconcileRun.Outcome.SUCCEEDED
        assert any(plural == "serviceentries" for plural, _, _ in kube.live())
        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        switched = run(api_cluster)
        assert switched.outcome == ReconcileRun.Outcome.SUCCEEDED, switched.error
        assert {plural for plural, _, _ in kube.live()} == {"ciliumnetworkpolicies"}
        kube.reset_calls()
        again = run(api_cluster)
        assert kube.writes() == [] and [c.plural for c in kube.calls if c.verb == "list"] == ["ciliumnetworkpolicies"]
        assert again.failed == 0

    def test_a_cluster_without_cilium_is_told_what_to_install(self, world, api_cluster, kube):
        resource = next(r for r in kube._kinds if r.plural == "ciliumnetworkpolicies")
        del kube._kinds[resource]
        del kube.resources[resource]
        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        failed = run(api_cluster)
        assert failed.outcome != ReconcileRun.Outcome.SUCCEEDED
        assert "CiliumNetworkPolicy (cilium.io/v2)" in failed.error and "install Cilium" in failed.error


class CiliumPreviewTests:
    def test_the_preview_dry_runs_the_policy_on_the_api_server(self, world, api_cluster, kube):
        cache.clear()
        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        pending = egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=True)
        cluster = api(world.lead, pending)
        [change] = cluster["added"] + cluster["changed"]
        assert (change["kind"], change["name"]) == ("CiliumNetworkPolicy", "egressui-egress")
        check = cluster["server_check"]
        assert check["state"] == "accepted" and [v["kind"] for v in check["objects"]] == ["CiliumNetworkPolicy"]
        applies = [call for call in kube.calls if call.verb == "apply"]
        assert applies and all(call.dry_run and call.params["fieldValidation"] == "Strict" for call in applies)
        assert kube.writes() == [] and kube.live() == {}
