"""The API and the admin with istio-ambient clusters: the ambient settings, and a mode change that
is refused (naming the field) once the cluster holds objects."""

import pytest

from policies.models import Cluster, ManagedObject
from tests.factories import cluster_admin_form
from tests.policies.api.conftest import API, assert_error

pytestmark = pytest.mark.django_db


def hold_an_object(cluster) -> None:
    ManagedObject.objects.create(
        cluster=cluster, kind="ServiceEntry", namespace="istio-egress", name="api-stripe-com", content_hash="x"
    )


class ClusterModeApiTests:
    def test_register_an_ambient_cluster(self, clients):
        body = {
            "name": "amb",
            "enforcement_mode": "istio-ambient",
            "connection_kind": "token",
            "api_url": "https://k.example.com",
            "token": "t0k",
            "istio_version": "1.30",
            "waypoint_name": "egress-wp",
        }
        response = clients.admin.post(f"{API}/clusters/", body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["enforcement_mode"] == "istio-ambient" and created["waypoint_name"] == "egress-wp"
        assert created["waypoint_managed_by_platform"] is False and created["waypoint_namespace"] == ""

    def test_bad_ambient_settings_name_the_field(self, clients, world):
        url = f"{API}/clusters/{world.cluster.pk}/"
        assert_error(
            clients.admin.patch(url, {"istio_version": "latest"}, format="json"),
            400,
            "validation_error",
            "istio_version",
        )
        assert_error(
            clients.admin.patch(url, {"waypoint_name": "Bad_Name"}, format="json"),
            400,
            "validation_error",
            "waypoint_name",
        )

    def test_mode_change_is_free_until_objects_exist(self, clients, world):
        url = f"{API}/clusters/{world.cluster.pk}/"
        response = clients.admin.patch(url, {"enforcement_mode": "istio-ambient"}, format="json")
        assert response.status_code == 200 and response.json()["enforcement_mode"] == "istio-ambient"
        hold_an_object(world.cluster)
        response = clients.admin.patch(url, {"enforcement_mode": "istio"}, format="json")
        assert_error(response, 400, "validation_error", "enforcement_mode")
        assert "mode migration" in response.json()["error"]["message"]
        assert Cluster.objects.get(pk=world.cluster.pk).enforcement_mode == "istio-ambient"


class ClusterModeAdminTests:
    def test_admin_refuses_a_mode_change_on_the_field(self, client, world):
        hold_an_object(world.cluster)
        client.force_login(world.admin)
        form = cluster_admin_form(
            connection_kind="directory", directory_path=world.cluster.directory_path, enforcement_mode="istio-ambient"
        )
        response = client.post(f"/admin/policies/cluster/{world.cluster.pk}/change/", form)
        assert response.status_code == 200
        assert "mode migration" in response.content.decode()
        assert Cluster.objects.get(pk=world.cluster.pk).enforcement_mode == "istio"


class ClusterModeMigrateApiTests:
    def test_admins_migrate_with_the_ambient_settings_and_an_audit_event(self, clients, world):
        from policies.models import AuditEvent

        hold_an_object(world.cluster)
        url = f"{API}/clusters/{world.cluster.pk}/migrate-mode/"
        body = {"enforcement_mode": "istio-ambient", "istio_version": "1.30", "waypoint_name": "egress-wp"}
        response = clients.admin.post(url, body, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["enforcement_mode"] == "istio-ambient" and response.json()["sync"]["needs_reconcile"]
        event = AuditEvent.objects.filter(event_type=401).latest("seq")
        assert event.actor == world.admin and "migrated from istio to istio-ambient" in event.message

    def test_refusals_name_the_field_and_change_nothing(self, clients, world):
        url = f"{API}/clusters/{world.cluster.pk}/migrate-mode/"
        assert_error(
            clients.admin.post(url, {"enforcement_mode": "istio"}, format="json"),
            400,
            "validation_error",
            "enforcement_mode",
        )
        assert_error(
            clients.admin.post(url, {"enforcement_mode": "cilium-x"}, format="json"),
            400,
            "validation_error",
            "enforcement_mode",
        )
        response = clients.admin.post(url, {"enforcement_mode": "istio-ambient", "istio_version": "v1"}, format="json")
        assert_error(response, 400, "validation_error", "istio_version")
        assert_error(
            clients.lead.post(url, {"enforcement_mode": "istio-ambient"}, format="json"), 403, "permission_denied"
        )
        assert Cluster.objects.get(pk=world.cluster.pk).enforcement_mode == "istio"
