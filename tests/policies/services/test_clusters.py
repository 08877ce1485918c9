"""Cluster settings of issue 14 through `cluster_update`: in-cluster egress, the CIDRs it allows, the
default state of new namespaces and how TLS origination verifies servers; bad values name the field."""

import pytest

from policies.choices import AuditEventType
from policies.exceptions import ValidationFailed
from policies.models import AuditEvent, Cluster, ClusterSyncState
from policies.services.clusters import cluster_mode_migrate, cluster_update

pytestmark = pytest.mark.django_db


def _refused(cluster, **fields) -> ValidationFailed:
    before = Cluster.objects.filter(pk=cluster.pk).values().get()
    with pytest.raises(ValidationFailed) as caught:
        cluster_update(cluster=cluster, actor=None, **fields)
    assert Cluster.objects.filter(pk=cluster.pk).values().get() == before  # nothing half-written
    return caught.value


class ClusterEnforcementSettingsTests:
    def test_valid_settings_are_normalised_audited_and_reconciled(self, world):
        ClusterSyncState.objects.update(needs_reconcile=False)
        cluster_update(
            cluster=world.cluster,
            actor=world.admin,
            in_cluster_egress="restrict",
            in_cluster_cidrs=["10.96.0.1", "169.254.20.10/32", "10.96.0.1/32", "fd00::1/64"],
            default_namespace_enforcement="enforce",
            origination_credential_name="egress-ca",
        )
        cluster = Cluster.objects.get(pk=world.cluster.pk)
        assert cluster.in_cluster_cidrs == ["10.96.0.1/32", "169.254.20.10/32", "fd00::/64"]
        assert (cluster.in_cluster_egress, cluster.default_namespace_enforcement) == ("restrict", "enforce")
        event = AuditEvent.objects.get(event_type=AuditEventType.CLUSTER_UPDATED)
        assert event.after["in_cluster_cidrs"] == cluster.in_cluster_cidrs
        assert ClusterSyncState.objects.get(cluster=cluster).needs_reconcile

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("10.0.0.0/8", "JSON list"),
            (["not-an-ip"], "'not-an-ip' is not an IP address or CIDR"),
            ([42], "'42' is not an IP address or CIDR"),
            (["0.0.0.0/0"], "the whole internet"),
            ([f"10.0.{i}.0/24" for i in range(65)], "At most 64"),
        ],
    )
    def test_bad_cidrs_name_the_field(self, world, value, message):
        error = _refused(world.cluster, in_cluster_cidrs=value)
        assert list(error.fields) == ["in_cluster_cidrs"] and message in error.message

    def test_origination_must_verify_the_server(self, world):
        error = _refused(world.cluster, origination_ca_certificates="", origination_credential_name="")
        assert list(error.fields) == ["origination_ca_certificates"] and "verify the server" in error.message
        error = _refused(world.cluster, origination_ca_certificates="certs/ca.pem")
        assert "absolute path" in error.message
        error = _refused(world.cluster, origination_credential_name="Bad_Name")
        assert list(error.fields) == ["origination_credential_name"]
        cluster_update(
            cluster=world.cluster, actor=None, origination_ca_certificates="", origination_credential_name="ca"
        )
        assert Cluster.objects.get(pk=world.cluster.pk).origination_credential_name == "ca"

    def test_unknown_choices_are_refused(self, world):
        assert list(_refused(world.cluster, in_cluster_egress="sometimes").fields) == ["in_cluster_egress"]
        assert list(_refused(world.cluster, default_namespace_enforcement="strict").fields) == [
            "default_namespace_enforcement"
        ]


class ClusterUpdatedEventTests:
    """A settings change and a mode migration are the same event: only what changed, old and new, by
    the actor (or the operator on the command line), and a reconcile queued."""

    def _event(self):
        return AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_UPDATED).latest("seq")

    def test_a_settings_change_and_a_mode_migration_record_only_what_changed(self, world):
        ClusterSyncState.objects.update(needs_reconcile=False)
        cluster_update(cluster=world.cluster, actor=None, description="Payments.", trust_domain="cluster.local")
        event = self._event()
        assert (event.before, event.after) == ({"description": world.cluster.description}, {"description": "Payments."})
        assert (event.actor, event.actor_repr, event.message) == (None, "operator", "")
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile

        ClusterSyncState.objects.update(needs_reconcile=False)
        cluster_mode_migrate(cluster=world.cluster, actor=None, mode="istio-ambient", istio_version="1.30")
        event = self._event()
        assert event.before == {"enforcement_mode": "istio", "istio_version": world.cluster.istio_version}
        assert event.after == {"enforcement_mode": "istio-ambient", "istio_version": "1.30"}
        assert (event.actor, event.actor_repr) == (None, "operator") and "migrated" in event.message
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile

    def test_nothing_changed_records_nothing(self, world):
        cluster_update(cluster=world.cluster, actor=world.admin, description=world.cluster.description)
        assert not AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_UPDATED).exists()
