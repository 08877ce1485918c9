"""The Django admin: platform admins only, every change audited, secrets never rendered back."""

import pytest

from policies.choices import AuditEventType
from policies.models import AuditEvent, Cluster, Namespace
from policies.services.users import user_update
from tests.factories import ClusterFactory, GrantFactory, NamespaceFactory, cluster_admin_form, fixture_save

pytestmark = pytest.mark.django_db


class AdminTests:
    def test_only_platform_admins_enter(self, client, world):
        user_update(user=world.lead, actor=None, is_staff=True)
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

    def test_namespaces_are_onboarded_and_switched_through_their_services(self, client, world):
        client.force_login(world.admin)
        world.cluster.default_namespace_enforcement = "enforce"
        fixture_save(world.cluster)
        system = {"cluster": world.cluster.pk, "name": "istio-egress", "team": world.payments.pk, "enforcement": ""}
        page = client.post("/admin/policies/namespace/add/", system)
        assert page.status_code == 200 and "is a system namespace" in page.content.decode()
        form = {"cluster": world.cluster.pk, "name": "ledger", "team": world.payments.pk, "enforcement": ""}
        assert client.post("/admin/policies/namespace/add/", form).status_code == 302
        ledger = Namespace.objects.get(name="ledger")
        assert ledger.enforcement == "enforce"  # the cluster's default
        created = AuditEvent.objects.get(event_type=AuditEventType.CONFIG_CREATED, subject_id=str(ledger.pk))
        world.cluster.sync.refresh_from_db()
        assert created.after["enforcement"] == "enforce" and world.cluster.sync.needs_reconcile
        url = f"/admin/policies/namespace/{ledger.pk}/change/"
        change = {"team": world.payments.pk, "enforcement": "observe", "reason": ""}
        page = client.post(url, change)
        assert page.status_code == 200 and "Give a reason for going back to observe" in page.content.decode()
        assert client.post(url, {**change, "reason": "vendor SDK needs an audit"}).status_code == 302
        event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED)
        assert (event.actor, event.before, event.message) == (
            world.admin,
            {"enforcement": "enforce"},
            "vendor SDK needs an audit",
        )

    def test_a_namespace_with_grants_is_not_deleted(self, client, world):
        client.force_login(world.admin)
        GrantFactory(identity=world.checkout)
        response = client.post(f"/admin/policies/namespace/{world.ns.pk}/delete/", {"post": "yes"}, follow=True)
        assert "Cannot delete namespace" in response.content.decode()  # its grants protect it
        assert Namespace.objects.filter(pk=world.ns.pk).exists()
        empty = NamespaceFactory(cluster=world.cluster, name="empty", team=world.payments)
        client.post(f"/admin/policies/namespace/{empty.pk}/delete/", {"post": "yes"})
        assert not Namespace.objects.filter(pk=empty.pk).exists()
        assert AuditEvent.objects.get(event_type=AuditEventType.CONFIG_DELETED).before["namespace"] == "empty"

    def test_audit_events_are_read_only(self, client, world):
        client.force_login(world.admin)
        assert client.get("/admin/policies/auditevent/").status_code == 200
        assert client.get("/admin/policies/auditevent/add/").status_code == 403
