"""The Django admin: platform admins only, every change audited, secrets never rendered back."""

import pytest

from policies.choices import AuditEventType
from policies.models import AuditEvent, Cluster
from tests.factories import ClusterFactory, cluster_admin_form

pytestmark = pytest.mark.django_db


class AdminTests:
    def test_only_platform_admins_enter(self, client, world):
        world.lead.is_staff = True
        world.lead.save()
        client.force_login(world.lead)
        assert client.get("/admin/").status_code == 302
        client.force_login(world.admin)
        assert client.get("/admin/").status_code == 200

    def test_cluster_secrets_are_write_only(self, client, world):
        cluster = ClusterFactory(
            name="prod-eu",
            connection_kind="token",
            api_url="https://k8s.example.com",
            token="sekret-token",
            directory_path="",
        )
        client.force_login(world.admin)
        page = client.get(f"/admin/policies/cluster/{cluster.pk}/change/").content.decode()
        assert "sekret-token" not in page
        form = cluster_admin_form(
            description="edited", environment="prod", connection_kind="token", api_url="https://k8s.example.com"
        )
        response = client.post(f"/admin/policies/cluster/{cluster.pk}/change/", form)
        assert response.status_code == 302, response.content.decode()[:2000]
        cluster = Cluster.objects.get(pk=cluster.pk)
        assert cluster.description == "edited" and cluster.environment == "prod"
        assert cluster.token == "sekret-token"  # an empty secret field keeps the stored value
        event = AuditEvent.objects.get(event_type=AuditEventType.CLUSTER_UPDATED)
        assert event.actor == world.admin
        assert set(event.after) == {"description", "environment"}
        assert cluster.sync.needs_reconcile

    def test_config_changes_are_audited(self, client, world):
        client.force_login(world.admin)
        response = client.post("/admin/policies/domainlist/add/", {"name": "blocked", "entries": "pastebin.com"})
        assert response.status_code == 302
        event = AuditEvent.objects.get(event_type=AuditEventType.CONFIG_CREATED)
        assert event.subject_type == "domainlist" and event.after["entries"] == "pastebin.com"

    def test_audit_events_are_read_only(self, client, world):
        client.force_login(world.admin)
        assert client.get("/admin/policies/auditevent/").status_code == 200
        assert client.get("/admin/policies/auditevent/add/").status_code == 403
