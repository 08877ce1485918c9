"""An istio-ambient cluster reconciled through the emulator with strict validation (Istio and Gateway
API CRDs), and a sidecar cluster migrated to ambient in one run."""

import pytest

from policies.choices import AuditEventType, EnforcementMode
from policies.exceptions import ValidationFailed
from policies.models import AuditEvent, ManagedObject, ReconcileRun
from policies.reconciler.loop import reconcile_cluster
from policies.reconciler.resources import key_of
from policies.selectors.manifests import desired_objects_for_cluster
from policies.services.clusters import cluster_mode_migrate, cluster_update
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db

WAYPOINT_KEY = "Gateway.gateway.networking.k8s.io"


@pytest.fixture
def grants(world, api_cluster):
    return [
        GrantFactory(identity=world.checkout, host="api.stripe.com"),
        GrantFactory(identity=world.refunds, host="legacy.example.com", port=443, protocol="http-originate"),
        GrantFactory(identity=world.indexer, host="api.stripe.com"),
    ]


def ambient(cluster):
    cluster.enforcement_mode = EnforcementMode.ISTIO_AMBIENT
    cluster.istio_version = "1.30"
    fixture_save(cluster)
    return cluster


def run(cluster) -> ReconcileRun:
    return reconcile_cluster(cluster.pk, trigger="test")


def live_kinds(kube) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for (_, namespace, name), obj in kube.live().items():
        found.setdefault(key_of(obj).kind, set()).add(f"{namespace}/{name}")
    return found


class AmbientReconcileTests:
    def test_first_run_applies_the_waypoint_set_and_a_second_run_writes_nothing(self, api_cluster, grants, kube):
        cluster = ambient(api_cluster)
        desired = {key_of(obj) for obj in desired_objects_for_cluster(cluster)}
        first = run(cluster)
        assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, first.error
        assert first.created == len(desired) and first.failed == 0
        live = live_kinds(kube)
        assert live[WAYPOINT_KEY] == {"istio-egress/egress-waypoint"}
        assert "VirtualService" not in live and "Sidecar" not in live and "Gateway" not in live
        waypoint = kube.get("gateways.gateway.networking.k8s.io", "istio-egress", "egress-waypoint")
        assert waypoint["spec"]["gatewayClassName"] == "istio-waypoint"
        assert ManagedObject.objects.filter(cluster=cluster, kind=WAYPOINT_KEY).count() == 1
        for grant in grants:
            grant.refresh_from_db()
            assert grant.applied_state == "applied"

        kube.reset_calls()
        second = run(cluster)
        assert kube.writes() == [] and second.unchanged == len(desired)

    def test_the_emulator_validates_the_waypoint_strictly(self, api_cluster, grants, kube):
        cluster = ambient(api_cluster)
        [waypoint] = [obj for obj in desired_objects_for_cluster(cluster) if key_of(obj).kind == WAYPOINT_KEY]
        assert kube.validator(waypoint) is None
        waypoint["spec"]["listeners"][0]["protocl"] = "HBONE"
        assert kube.validator(waypoint).unknown == [".spec.listeners[0].protocl"]  # what Strict refuses
        waypoint["spec"]["listeners"].append(dict(waypoint["spec"]["listeners"][0]))
        causes = kube.validator(waypoint).causes
        assert any("Listener name must be unique" in detail for _, detail in causes)  # a CEL rule

    def test_a_refused_waypoint_fails_only_itself(self, api_cluster, grants, kube):
        cluster = ambient(api_cluster)
        kube.fail("apply", plural="gateways", status=422, times=None, message="listeners: Invalid value")
        result = run(cluster)
        assert result.outcome == ReconcileRun.Outcome.PARTIAL and result.failed == 1

    def test_a_sidecar_cluster_without_gateway_api_crds_still_reconciles(self, api_cluster, grants, kube):
        for resource in [r for r in kube._kinds if r.group == "gateway.networking.k8s.io"]:
            del kube._kinds[resource]
        assert run(api_cluster).outcome == ReconcileRun.Outcome.SUCCEEDED

    def test_an_ambient_cluster_needs_the_gateway_api(self, api_cluster, grants, kube):
        cluster = ambient(api_cluster)
        for resource in [r for r in kube._kinds if r.group == "gateway.networking.k8s.io"]:
            del kube._kinds[resource]
        result = run(cluster)
        assert result.outcome == ReconcileRun.Outcome.FAILED and kube.writes() == []
        assert result.error.startswith("The cluster does not serve Gateway (gateway.networking.k8s.io/v1)")


class ModeChangeTests:
    def test_mode_changes_freely_while_nothing_is_managed(self, world):
        cluster = cluster_update(cluster=world.cluster, actor=world.admin, enforcement_mode="istio-ambient")
        assert cluster.enforcement_mode == "istio-ambient"

    def test_plain_update_is_refused_once_objects_exist(self, api_cluster, grants, kube, world):
        run(api_cluster)
        with pytest.raises(ValidationFailed) as caught:
            cluster_update(cluster=api_cluster, actor=world.admin, enforcement_mode="istio-ambient")
        assert "enforcement_mode" in caught.value.fields and "mode migration" in caught.value.message
        api_cluster.refresh_from_db()
        assert api_cluster.enforcement_mode == "istio"

    def test_migration_replaces_the_sidecar_set_in_one_run(self, api_cluster, grants, kube, world):
        assert run(api_cluster).outcome == ReconcileRun.Outcome.SUCCEEDED
        before = live_kinds(kube)
        assert {"VirtualService", "Sidecar", "Gateway"} <= set(before)

        cluster_mode_migrate(cluster=api_cluster, actor=world.admin, mode="istio-ambient", istio_version="1.30")
        event = AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_UPDATED).latest("seq")
        assert event.before["enforcement_mode"] == "istio" and event.after["enforcement_mode"] == "istio-ambient"
        assert "migrated" in event.message

        kube.reset_calls()
        migration = run(api_cluster)
        assert migration.outcome == ReconcileRun.Outcome.SUCCEEDED, migration.error
        after = live_kinds(kube)
        assert set(after) == {
            WAYPOINT_KEY,
            "ServiceEntry",
            "DestinationRule",
            "AuthorizationPolicy",
            "NetworkPolicy",
            "Telemetry",
        }
        # Same names carry over (updated in place); what only the sidecar mode had is gone.
        assert after["ServiceEntry"] == before["ServiceEntry"]
        assert migration.deleted >= len(before["VirtualService"]) + len(before["Sidecar"]) + len(before["Gateway"])
        api_cluster.refresh_from_db()
        desired = {key_of(obj) for obj in desired_objects_for_cluster(api_cluster)}
        assert set(ManagedObject.objects.filter(cluster=api_cluster).values_list("kind", "namespace", "name")) == {
            tuple(key) for key in desired
        }
        kube.reset_calls()
        assert run(api_cluster).created == 0 and kube.writes() == []

    def test_migration_refuses_the_same_mode_and_unknown_settings(self, world):
        with pytest.raises(ValidationFailed):
            cluster_mode_migrate(cluster=world.cluster, actor=world.admin, mode="istio")
        with pytest.raises(ValidationFailed):
            cluster_mode_migrate(cluster=world.cluster, actor=world.admin, mode="istio-ambient", egress_namespace="x")
        with pytest.raises(ValidationFailed):
            cluster_mode_migrate(cluster=world.cluster, actor=world.admin, mode="istio-ambient", istio_version="new")
