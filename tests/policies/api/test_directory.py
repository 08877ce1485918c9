"""teams/, clusters/, workload-identities/, reconcile-runs/: reads for everyone signed in, writes for
platform admins (identities: team members, in their namespaces), secrets never output."""

import pytest
from django.utils import timezone

from policies.models import AuditEvent, Cluster, ReconcileObjectResult, ReconcileRun, Team, WorkloadIdentity
from tests.factories import fixture_save
from tests.policies.api.conftest import API, assert_error

pytestmark = pytest.mark.django_db


class TeamApiTests:
    def test_teams_list_members_and_hide_the_webhook_secret(self, clients, world):
        world.payments.webhook_url = "https://hooks.example.com/T000/secret-path"
        world.payments.webhook_secret = "hmac-key"
        fixture_save(world.payments)
        body = clients.searcher.get(f"{API}/teams/").json()
        payments = next(t for t in body["results"] if t["slug"] == "payments")
        assert payments["webhook_host"] == "hooks.example.com"
        assert {m["username"]: m["role"] for m in payments["members"]} == {
            "payments-dev": "member",
            "payments-lead": "approver",
            "payments-lead2": "approver",
        }
        assert "secret-path" not in str(body) and "hmac-key" not in str(body)

    def test_admins_create_and_change_teams_with_audit(self, clients):
        created = clients.admin.post(
            f"{API}/teams/", {"slug": "data", "name": "Data", "webhook_secret": "s3cret"}, format="json"
        )
        assert created.status_code == 201, created.content
        assert "webhook_secret" not in created.json()
        team = Team.objects.get(slug="data")
        assert team.webhook_secret == "s3cret"
        changed = clients.admin.patch(f"{API}/teams/{team.pk}/", {"name": "Data platform"}, format="json")
        assert changed.json()["name"] == "Data platform"
        team.refresh_from_db()
        assert team.webhook_secret == "s3cret"  # an omitted secret is kept
        events = AuditEvent.objects.filter(subject_type="team", subject_id=str(team.pk)).order_by("seq")
        assert [e.event_name for e in events] == ["config.created", "config.updated"]
        assert "s3cret" not in str(events[0].after)

    def test_team_validation_and_permissions(self, clients, world):
        assert_error(
            clients.admin.post(f"{API}/teams/", {"slug": "payments", "name": "x"}, format="json"),
            400,
            "validation_error",
            "slug",
        )
        assert_error(
            clients.admin.post(f"{API}/teams/", {"slug": "a b", "name": "x"}, format="json"),
            400,
            "validation_error",
            "slug",
        )
        assert_error(
            clients.lead.post(f"{API}/teams/", {"slug": "new", "name": "x"}, format="json"), 403, "permission_denied"
        )


class ClusterApiTests:
    def test_clusters_never_show_secrets(self, clients, world):
        world.cluster.token = "super-secret-token"
        world.cluster.api_url = "https://k8s.example.com"
        fixture_save(world.cluster)
        body = clients.dev.get(f"{API}/clusters/").json()
        cluster = body["results"][0]
        assert cluster["has_token"] is True and cluster["has_kubeconfig"] is False
        assert "super-secret-token" not in str(body) and "token" not in cluster
        assert cluster["sync"]["needs_reconcile"] is False

    def test_admins_register_clusters_through_the_service(self, clients):
        body = {
            "name": "prod-eu",
            "environment": "prod",
            "connection_kind": "token",
            "api_url": "https://k.example.com",
            "token": "t0k",
        }
        response = clients.admin.post(f"{API}/clusters/", body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["has_token"] and created["sync"]["needs_reconcile"] and "t0k" not in str(created)
        event = AuditEvent.objects.get(event_type=400)
        assert event.after["token"] == "[redacted]"

    def test_cluster_validation_names_the_field(self, clients):
        response = clients.admin.post(
            f"{API}/clusters/",
            {"name": "prod", "connection_kind": "token", "api_url": "https://k.example.com"},
            format="json",
        )
        assert_error(response, 400, "validation_error", "api_url")
        assert_error(
            clients.admin.post(f"{API}/clusters/", {"name": "Not_A_Label"}, format="json"),
            400,
            "validation_error",
            "name",
        )
        assert not Cluster.objects.filter(name="prod").exists()

    def test_patch_keeps_an_omitted_secret_and_rejects_renames(self, clients, world):
        world.cluster.token = "keep-me"
        fixture_save(world.cluster)
        url = f"{API}/clusters/{world.cluster.pk}/"
        renamed = clients.admin.patch(url, {"description": "EU", "name": "renamed"}, format="json")
        assert_error(renamed, 400, "validation_error", "name")
        assert "cannot be changed" in renamed.json()["error"]["fields"]["name"][0]
        response = clients.admin.patch(url, {"description": "EU"}, format="json")
        assert response.status_code == 200 and response.json()["name"] == world.cluster.name
        world.cluster.refresh_from_db()
        assert world.cluster.token == "keep-me" and world.cluster.description == "EU"

    def test_reconcile_runs_with_their_object_results(self, clients, world):
        run = ReconcileRun.objects.create(cluster=world.cluster, trigger="change", started_at=timezone.now(), created=1)
        ReconcileObjectResult.objects.create(
            run=run,
            api_version="networking.istio.io/v1",
            kind="ServiceEntry",
            namespace="istio-egress",
            name="api-stripe-com",
            action="created",
        )
        listed = clients.admin.get(f"{API}/reconcile-runs/", {"cluster": world.cluster.name}).json()
        assert [r["id"] for r in listed["results"]] == [run.pk]
        detail = clients.admin.get(f"{API}/reconcile-runs/{run.pk}/").json()
        assert detail["results"][0]["kind"] == "ServiceEntry" and detail["summary"].startswith("created=1")
        assert_error(clients.lead.get(f"{API}/reconcile-runs/{run.pk}/"), 403, "permission_denied")


class IdentityApiTests:
    def test_members_see_their_teams_identities(self, clients, world):
        names = {i["name"] for i in clients.dev.get(f"{API}/workload-identities/").json()["results"]}
        assert names == {str(world.checkout), str(world.refunds)}
        filtered = clients.admin.get(f"{API}/workload-identities/", {"team": "search"}).json()["results"]
        assert [i["principal"] for i in filtered] == ["cluster.local/ns/search/sa/indexer"]

    def test_members_register_identities_in_their_namespaces(self, clients, world):
        body = {"cluster": world.cluster.name, "namespace": "payments", "service_account": "payouts"}
        created = clients.dev.post(f"{API}/workload-identities/", body, format="json")
        assert created.status_code == 201 and created.json()["team"] == "payments"
        again = clients.dev.post(f"{API}/workload-identities/", body, format="json")
        assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
        assert WorkloadIdentity.objects.filter(service_account="payouts").count() == 1
        foreign = {**body, "namespace": "search"}
        assert_error(clients.dev.post(f"{API}/workload-identities/", foreign, format="json"), 403, "permission_denied")
        missing = {**body, "namespace": "nope"}
        assert_error(
            clients.dev.post(f"{API}/workload-identities/", missing, format="json"),
            400,
            "validation_error",
            "namespace",
        )
        invalid = {**body, "service_account": "Bad_Name"}
        assert_error(
            clients.dev.post(f"{API}/workload-identities/", invalid, format="json"),
            400,
            "validation_error",
            "service_account",
        )
