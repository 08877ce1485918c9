"""`add_cluster --mode istio-ambient` and `migrate_cluster_mode` (on a GitOps directory target)."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.models import AuditEvent, Cluster, ManagedObject
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db


def files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.glob("*/*.yaml")}


class AddAmbientClusterTests:
    def test_mode_and_waypoint_settings(self, tmp_path, capsys):
        call_command(
            "add_cluster", "amb", "--directory", str(tmp_path), "--mode", "istio-ambient", "--istio-version", "1.30",
            "--waypoint-name", "egress-wp", "--platform-waypoint",
        )  # fmt: skip
        cluster = Cluster.objects.get(name="amb")
        assert (cluster.enforcement_mode, cluster.istio_version, cluster.waypoint_name) == (
            "istio-ambient",
            "1.30",
            "egress-wp",
        )
        assert cluster.waypoint_managed_by_platform

    def test_ambient_options_need_the_ambient_mode_and_a_valid_version(self, tmp_path):
        with pytest.raises(CommandError, match="go with --mode istio-ambient"):
            call_command("add_cluster", "x", "--directory", str(tmp_path), "--istio-version", "1.30")
        with pytest.raises(CommandError, match="istio_version"):
            call_command(
                "add_cluster", "y", "--directory", str(tmp_path), "--mode", "istio-ambient", "--istio-version", "new"
            )
        assert not Cluster.objects.exists()


class MigrateClusterModeTests:
    def test_directory_target_moves_to_ambient_in_one_reconcile(self, world, tmp_path, capsys):
        world.cluster.connection_kind, world.cluster.directory_path = "directory", str(tmp_path)
        fixture_save(world.cluster)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        call_command("reconcile", "--cluster", world.cluster.name)
        before = files(tmp_path)
        assert "istio-egress/virtualservice-api-stripe-com.yaml" in before
        capsys.readouterr()

        call_command(
            "migrate_cluster_mode", "--cluster", world.cluster.name, "--mode", "istio-ambient",
            "--istio-version", "1.30", "--reconcile",
        )  # fmt: skip
        out = capsys.readouterr().out
        assert "enforcement mode is now istio-ambient" in out and out.strip().splitlines()[-1].endswith("failed=0")
        after = files(tmp_path)
        assert "istio-egress/gateway.gateway.networking.k8s.io-egress-waypoint.yaml" in after
        assert not {name for name in after if "virtualservice" in name or "sidecar" in name}
        assert "istio-egress/serviceentry-api-stripe-com.yaml" in after  # same name, updated in place
        assert ManagedObject.objects.filter(cluster=world.cluster, kind="VirtualService").count() == 0
        event = AuditEvent.objects.filter(event_type=401).latest("seq")
        assert event.actor_repr == "operator" and "migrated from istio to istio-ambient" in event.message

    def test_unknown_cluster_and_same_mode(self, world):
        with pytest.raises(CommandError, match="No cluster named"):
            call_command("migrate_cluster_mode", "--cluster", "nope", "--mode", "istio-ambient")
        with pytest.raises(CommandError, match="already in mode istio"):
            call_command("migrate_cluster_mode", "--cluster", world.cluster.name, "--mode", "istio")


class RenderAmbientManifestsTests:
    def test_render_manifests_writes_the_waypoint_set(self, world, tmp_path, capsys):
        world.cluster.enforcement_mode, world.cluster.istio_version = "istio-ambient", "1.30"
        fixture_save(world.cluster)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        call_command("render_manifests", "--cluster", world.cluster.name, "--output", str(tmp_path))
        assert files(tmp_path) >= {
            "istio-egress/gateway.gateway.networking.k8s.io-egress-waypoint.yaml",
            "istio-egress/serviceentry-api-stripe-com.yaml",
            "istio-egress/authorizationpolicy-api-stripe-com.yaml",
            "istio-egress/authorizationpolicy-egressui--waypoint--default--deny.yaml",
        }
        assert not {name for name in files(tmp_path) if "virtualservice" in name or "sidecar" in name}
