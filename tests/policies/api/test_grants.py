"""grants/: filters, revoke, renew."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.choices import GrantStatus
from policies.models import AuditEvent, ClusterSyncState, Grant
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory, fixture_save
from tests.policies.api.conftest import API, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def grants(world):
    soon = GrantFactory(identity=world.checkout, host="api.stripe.com")
    soon.expires_at = timezone.now() + timedelta(days=2)
    fixture_save(soon)
    later = GrantFactory(identity=world.refunds, host="api.adyen.com")
    other_cluster = NamespaceFactory(name="payments", team=world.payments, cluster=ClusterFactory(name="prod-us"))
    remote = GrantFactory(identity=IdentityFactory(namespace=other_cluster, service_account="checkout"), host="x.io")
    ended = GrantFactory(identity=world.checkout, host="old.example.com", status=GrantStatus.REVOKED)
    search = GrantFactory(identity=world.indexer, host="es.example.com")
    return {"soon": soon, "later": later, "remote": remote, "ended": ended, "search": search}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {g["id"] for g in response.json()["results"]}


class GrantListTests:
    def test_members_see_their_teams_grants_with_filters(self, clients, grants):
        g = {name: grant.pk for name, grant in grants.items()}
        assert _ids(clients.dev.get(f"{API}/grants/")) == {g["soon"], g["later"], g["remote"], g["ended"]}
        assert _ids(clients.dev.get(f"{API}/grants/", {"cluster": "prod-us"})) == {g["remote"]}
        assert _ids(clients.dev.get(f"{API}/grants/", {"host": "STRIPE"})) == {g["soon"]}
        assert _ids(clients.dev.get(f"{API}/grants/", {"status": "revoked"})) == {g["ended"]}
        assert _ids(clients.dev.get(f"{API}/grants/", {"team": "search"})) == set()
        before = (timezone.now() + timedelta(days=5)).isoformat()
        assert _ids(clients.dev.get(f"{API}/grants/", {"expiring_before": before})) == {g["soon"]}
        assert _ids(clients.admin.get(f"{API}/grants/", {"team": "search"})) == {g["search"]}

    def test_a_grant_reads_with_its_identity_and_applied_state(self, clients, grants):
        body = clients.dev.get(f"{API}/grants/{grants['soon'].pk}/").json()
        assert body["identity"]["name"] == str(grants["soon"].identity)
        assert body["applied_state"] == "pending" and body["status"] == "active" and body["ended_by"] is None


class GrantWriteTests:
    def test_revoke_needs_a_reason_and_marks_the_cluster(self, clients, world, grants):
        url = f"{API}/grants/{grants['later'].pk}/revoke/"
        assert_error(clients.lead.post(url, {"reason": " "}, format="json"), 400, "validation_error", "reason")
        response = clients.lead.post(url, {"reason": "Vendor dropped."}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "revoked" and body["ended_by"] == "payments-lead"
        assert body["end_reason"] == "Vendor dropped."
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        assert AuditEvent.objects.filter(subject_type="grant", subject_id=str(grants["later"].pk)).exists()
        assert_error(clients.lead.post(url, {"reason": "Again."}, format="json"), 409, "transition_not_allowed")

    def test_renew_creates_a_prefilled_draft(self, clients, grants):
        response = clients.dev.post(f"{API}/grants/{grants['soon'].pk}/renew/")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "draft" and body["renewal_of"] == grants["soon"].pk
        assert body["destinations"][0]["host"] == "api.stripe.com"
        assert Grant.objects.get(pk=grants["soon"].pk).renewals.count() == 1
