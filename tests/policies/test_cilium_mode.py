"""Enforcement mode `cilium` set up with add_cluster and the admin (the API: tests/policies/api/
test_cilium_clusters.py); the Cilium version is checked where the mode needs it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.choices import AuditEventType
from policies.manifests import load_yaml
from policies.models import AuditEvent, Cluster
from tests.factories import GrantFactory, cluster_admin_form, fixture_save

pytestmark = pytest.mark.django_db


class AddClusterTests:
    def test_mode_and_version(self, tmp_path):
        call_command(
            "add_cluster", "edge", "--directory", str(tmp_path), "--mode", "cilium", "--cilium-version", "1.18"
        )
        cluster = Cluster.objects.get(name="edge")
        assert (cluster.enforcement_mode, cluster.cilium_version) == ("cilium", "1.18")
        assert AuditEvent.objects.get(event_type=AuditEventType.CLUSTER_CREATED).after["enforcement_mode"] == "cilium"

    def test_refusals_write_nothing(self, tmp_path):
        with pytest.raises(CommandError, match="cilium_version: Mode cilium needs Cilium 1.15 or later"):
            call_command(
                "add_cluster", "a", "--directory", str(tmp_path), "--mode", "cilium", "--cilium-version", "1.14"
            )
        with pytest.raises(CommandError, match="cilium_version"):
            call_command(
                "add_cluster", "b", "--directory", str(tmp_path), "--mode", "cilium", "--cilium-version", "new"
            )
        with pytest.raises(CommandError, match="--cilium-version only goes with --mode cilium"):
            call_command("add_cluster", "c", "--directory", str(tmp_path), "--cilium-version", "1.18")
        assert not Cluster.objects.exists()


class AdminTests:
    def test_admin_creates_a_cilium_cluster_through_the_service(self, client, world):
        client.force_login(world.admin)
        form = cluster_admin_form(name="edge", enforcement_mode="cilium", connection_kind="in-cluster")
        response = client.post("/admin/policies/cluster/add/", form)
        assert response.status_code == 302, response.content.decode()[:2000]
        assert Cluster.objects.get(name="edge").enforcement_mode == "cilium"
        assert AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_CREATED, actor=world.admin).exists()

    def test_admin_names_the_version_field(self, client, world):
        client.force_login(world.admin)
        form = cluster_admin_form(
            name="edge",
            enforcement_mode="cilium",
            cilium_version="1.12",
            connection_kind="in-cluster",
        )
        page = client.post("/admin/policies/cluster/add/", form)
        assert page.status_code == 200 and "Mode cilium needs Cilium 1.15 or later" in page.content.decode()
        assert not Cluster.objects.filter(name="edge").exists()


class RenderManifestsTests:
    def test_a_cilium_cluster_renders_its_policies_and_names_what_it_cannot(self, world, tmp_path):
        world.cluster.enforcement_mode = "cilium"
        fixture_save(world.cluster)
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        originate = GrantFactory(identity=world.refunds, host="legacy.example.com", protocol="http-originate")
        out, err = StringIO(), StringIO()
        call_command("render_manifests", "--cluster", world.cluster.name, stdout=out, stderr=err)
        documents = load_yaml(out.getvalue())
        assert [(d["kind"], d["metadata"]["namespace"]) for d in documents] == [
            ("CiliumNetworkPolicy", "payments"),
            ("CiliumNetworkPolicy", "search"),
        ]
        assert f"grant {originate.pk}" in err.getvalue() and "Cilium cannot originate TLS" in err.getvalue()
        call_command("render_manifests", "--cluster", world.cluster.name, "--output", str(tmp_path), stdout=out)
        assert (tmp_path / "payments" / "ciliumnetworkpolicy-egressui-egress.yaml").is_file()
