"""Enforcement mode `cilium` set up with add_cluster and the admin (the API: tests/policies/api/
test_cilium_clusters.py); the Cilium version is checked where the mode needs it."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.choices import AuditEventType
from policies.models import AuditEvent, Cluster
from tests.factories import cluster_admin_form

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
