"""clusters/{id}/manifests/, clusters/{id}/reconcile/ and requests/{id}/preview/: built on the
renderer's and the reconciler's functions."""

import pytest
import yaml

from policies.manifests.serialize import dump_yaml
from policies.models import AuditEvent, ReconcileRun
from policies.selectors.manifests import desired_objects_for_cluster
from tests.factories import GrantFactory
from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


class ManifestTests:
    def test_json_is_a_kubernetes_list_and_yaml_is_the_renderers_stream(self, clients, world):
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        url = f"{API}/clusters/{world.cluster.pk}/manifests/"
        body = clients.admin.get(url).json()
        expected = desired_objects_for_cluster(world.cluster)
        assert body["apiVersion"] == "v1" and body["kind"] == "List" and body["items"] == expected
        assert {"ServiceEntry", "AuthorizationPolicy", "NetworkPolicy"} <= {o["kind"] for o in body["items"]}
        response = clients.admin.get(url, {"format": "yaml"})
        assert response.status_code == 200 and response["Content-Type"].startswith("application/yaml")
        assert response.content.decode() == dump_yaml(expected)
        assert list(yaml.safe_load_all(response.content)) == expected

    def test_manifests_are_for_platform_admins_and_errors_stay_json(self, clients, world):
        url = f"{API}/clusters/{world.cluster.pk}/manifests/"
        response = clients.lead.get(url, {"format": "yaml"})
        assert_error(response, 403, "permission_denied")
        assert response["Content-Type"] == "application/json"
        assert_error(clients.admin.get(f"{API}/clusters/999/manifests/", {"format": "yaml"}), 404, "not_found")


class ReconcileTests:
    def test_reconcile_queues_a_run_and_returns_its_id(self, clients, world, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as callbacks:
            response = clients.admin.post(f"{API}/clusters/{world.cluster.pk}/reconcile/")
        assert response.status_code == 202, response.content
        body = response.json()
        run = ReconcileRun.objects.get(pk=body["run_id"])
        assert run.cluster == world.cluster and body["run"]["outcome"] == run.outcome == "queued"
        assert callbacks, "the task is queued after commit"
        assert AuditEvent.objects.filter(event_type=410, cluster=world.cluster).exists()

    def test_a_retry_with_the_same_key_queues_nothing_new(self, clients, world):
        url = f"{API}/clusters/{world.cluster.pk}/reconcile/"
        first = clients.admin.post(url, HTTP_IDEMPOTENCY_KEY="rk-1")
        second = clients.admin.post(url, HTTP_IDEMPOTENCY_KEY="rk-1")
        assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
        assert ReconcileRun.objects.count() == 1

    def test_only_platform_admins_reconcile(self, clients, world):
        assert_error(clients.lead.post(f"{API}/clusters/{world.cluster.pk}/reconcile/"), 403, "permission_denied")
        assert not ReconcileRun.objects.exists()


class PreviewTests:
    def test_preview_lists_the_objects_approval_would_add(self, clients, world):
        created = clients.dev.post(f"{API}/requests/", create_body(world), format="json").json()
        body = clients.dev.get(f"{API}/requests/{created['id']}/preview/").json()
        assert body["request"] == created["id"]
        [cluster] = body["clusters"]
        assert cluster["cluster"] == world.cluster.name and not cluster["unrenderable"]
        kinds = {change["kind"] for change in cluster["added"]}
        assert {"ServiceEntry", "AuthorizationPolicy"} <= kinds
        assert all(change["action"] == "add" and change["before"] is None for change in cluster["added"])

    def test_preview_follows_request_visibility(self, clients, world):
        created = clients.dev.post(f"{API}/requests/", create_body(world), format="json").json()
        assert_error(clients.searcher.get(f"{API}/requests/{created['id']}/preview/"), 404, "not_found")
