"""`reconcile`, `add_cluster` (test_cluster is covered with the connection test)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.choices import ConnectionKind, Environment
from policies.models import AuditEvent, Cluster
from tests.factories import GrantFactory, fixture_save
from tests.policies.reconciler.conftest import point_at

pytestmark = pytest.mark.django_db


class ReconcileCommandTests:
    def test_prints_each_change_and_the_summary_last(self, world, kube, capsys):
        point_at(world.cluster, kube.url)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        call_command("reconcile", "--cluster", world.cluster.name)
        lines = capsys.readouterr().out.strip().splitlines()
        assert "created: ServiceEntry istio-egress/api-stripe-com" in lines
        count = len(kube.live())
        assert lines[-1] == f"created={count} updated=0 deleted=0 unchanged=0 failed=0"
        call_command("reconcile", "--cluster", world.cluster.name)
        assert capsys.readouterr().out.strip() == f"created=0 updated=0 deleted=0 unchanged={count} failed=0"

    def test_dry_run_uses_the_servers_dry_run(self, world, kube, capsys):
        point_at(world.cluster, kube.url)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        call_command("reconcile", "--cluster", world.cluster.name, "--dry-run")
        out = capsys.readouterr().out.strip().splitlines()
        assert "would be created: ServiceEntry istio-egress/api-stripe-com" in out
        assert out[-2:] == ["dry run: nothing was changed", out[-1]] and out[-1].startswith("created=")
        assert kube.live() == {} and all(c.dry_run for c in kube.calls if c.verb == "apply")

    def test_directory_dry_run_prints_a_diff(self, world, tmp_path, capsys):
        world.cluster.directory_path = str(tmp_path)
        fixture_save(world.cluster)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        call_command("reconcile", "--cluster", world.cluster.name, "--dry-run")
        out = capsys.readouterr().out
        assert "+++ b/istio-egress/serviceentry-api-stripe-com.yaml" in out and "+  - api.stripe.com" in out
        assert list(tmp_path.iterdir()) == []

    def test_failures_exit_non_zero_with_the_summary_still_last(self, world, kube, capsys):
        point_at(world.cluster, kube.url)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        kube.fail("apply", plural="gateways", status=422, message="Gateway is invalid")
        with pytest.raises(SystemExit) as exit_:
            call_command("reconcile", "--cluster", world.cluster.name)
        assert exit_.value.code == 1
        lines = capsys.readouterr().out.strip().splitlines()
        assert (
            "failed: Gateway istio-egress/api-stripe-com — HTTP 422 Invalid while applying "
            "Gateway istio-egress/api-stripe-com" in lines
        )
        assert lines[-1].endswith("failed=1")

    def test_unknown_cluster(self, db):
        with pytest.raises(CommandError, match="No cluster named 'nope'"):
            call_command("reconcile", "--cluster", "nope")


class AddClusterCommandTests:
    def test_kubeconfig_with_context(self, db, tmp_path, capsys):
        call_command("add_cluster", "prod-eu", "--kubeconfig", "/etc/egressui/kubeconfig", "--context", "prod")
        cluster = Cluster.objects.get(name="prod-eu")
        assert (cluster.connection_kind, cluster.kubeconfig_path, cluster.kube_context) == (
            ConnectionKind.KUBECONFIG,
            "/etc/egressui/kubeconfig",
            "prod",
        )
        assert cluster.sync.needs_reconcile
        assert AuditEvent.objects.get(subject_type="cluster").actor_repr == "operator"
        assert "test_cluster prod-eu" in capsys.readouterr().out

    def test_in_cluster_and_directory(self, db, tmp_path):
        call_command("add_cluster", "here", "--in-cluster", "--environment", "prod")
        call_command("add_cluster", "gitops", "--directory", str(tmp_path))
        here, gitops = Cluster.objects.get(name="here"), Cluster.objects.get(name="gitops")
        assert (here.connection_kind, here.environment) == (ConnectionKind.IN_CLUSTER, Environment.PROD)
        assert (gitops.connection_kind, gitops.directory_path) == (ConnectionKind.DIRECTORY, str(tmp_path))

    def test_bad_input_is_a_clear_error_and_writes_nothing(self, db):
        with pytest.raises(CommandError, match="name"):
            call_command("add_cluster", "Not_A_DNS_Label", "--in-cluster")
        with pytest.raises(CommandError, match="--context only goes with --kubeconfig"):
            call_command("add_cluster", "x", "--in-cluster", "--context", "c")
        with pytest.raises(CommandError):
            call_command("add_cluster", "y")  # one of the three targets is required
        assert not Cluster.objects.exists()
