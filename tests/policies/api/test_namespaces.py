"""Namespace endpoints: list and detail with the state, readiness from the source-side log (posted on
the ingestion endpoint next to the gateway's lines), the switch preview, the switch, the overview."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from policies.choices import AuditEventType
from policies.models import AuditEvent, ClusterSyncState, Namespace
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from tests.factories import GrantFactory
from tests.policies.accesslog.support import source_line
from tests.policies.api.conftest import API, assert_error
from tests.support.audit_guard import unaudited_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def observed(world):
    """payments observed; its sidecars' catch-all lines posted on the cluster's ingestion endpoint,
    together with a gateway line, as a log shipper sends them."""
    Namespace.objects.filter(pk=world.ns.pk).update(enforcement="observe")
    secret = cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
    shipper = APIClient()
    shipper.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    gateway = {
        "start_time": timezone.now().isoformat(),
        "sni": "api.stripe.com",
        "source_principal": "spiffe://cluster.local/ns/search/sa/indexer",
        "upstream_cluster": "outbound|443||api.stripe.com",
        "connection_termination_details": "rbac_access_denied_matched_policy[none]",
    }
    lines = [
        gateway,
        *[source_line("payments", "checkout", sni="api.stripe.com")] * 3,
        source_line("payments", "batch", original="203.0.113.40:5432"),
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    response = shipper.post(
        f"{API}/clusters/{world.cluster.pk}/access-logs/", data=body, content_type="application/x-ndjson"
    )
    assert response.json() == {"accepted": 5, "rejected": 0, "errors": []}
    return Namespace.objects.get(pk=world.ns.pk)


def url(pk, tail=""):
    return f"{API}/namespaces/{pk}/{tail}"


class NamespaceReadTests:
    def test_list_is_the_callers_teams_with_state_and_filters(self, clients, world, observed):
        body = clients.dev.get(f"{API}/namespaces/").json()
        assert [(ns["cluster"], ns["name"], ns["team"], ns["enforcement"]) for ns in body["results"]] == [
            (world.cluster.name, "payments", "payments", "observe")
        ]
        assert body["results"][0]["can_switch_enforcement"] is False
        assert clients.lead.get(url(observed.pk)).json()["can_switch_enforcement"] is True
        admin = clients.admin.get(f"{API}/namespaces/?enforcement=enforce").json()
        assert [ns["name"] for ns in admin["results"]] == ["search"]
        assert_error(clients.admin.get(f"{API}/namespaces/?enforcement=maybe"), 400, "validation_error", "enforcement")

    def test_others_namespaces_do_not_exist(self, clients, world, observed):
        for tail in ("", "readiness/", "enforcement-preview/?enforcement=enforce"):
            assert_error(clients.searcher.get(url(observed.pk, tail)), 404, "not_found")
        assert_error(
            clients.searcher.post(url(observed.pk, "enforcement/"), {"enforcement": "enforce"}), 404, "not_found"
        )

    def test_list_queries_do_not_grow(self, clients, world):
        clients.admin.get(f"{API}/namespaces/")
        with CaptureQueriesContext(connection) as few:
            clients.admin.get(f"{API}/namespaces/")
        for index in range(8):
            with unaudited_writes("state set up directly by the test"):
                Namespace.objects.create(cluster=world.cluster, name=f"extra{index}", team=world.payments)
        with CaptureQueriesContext(connection) as many:
            clients.admin.get(f"{API}/namespaces/")
        assert len(many) == len(few)


class ReadinessApiTests:
    def test_observed_destinations_tied_to_identities(self, clients, world, observed):
        body = clients.dev.get(url(observed.pk, "readiness/?days=7")).json()
        assert (body["enforcement"], body["days"], body["source_log"], body["feed_fresh"]) == ("observe", 7, True, True)
        assert (body["would_block_destinations"], body["would_block_connections"]) == (2, 4)
        assert body["identities_affected"] == ["batch", "checkout"]
        rows = {row["host"]: row for row in body["destinations"]}
        stripe = rows["api.stripe.com"]
        assert (stripe["port"], stripe["protocol"], stripe["observed"], stripe["blocked_at_source"]) == (
            443,
            "tls",
            3,
            0,
        )
        assert stripe["identities"][0] | {"last_seen": None} == {
            "service_account": "checkout",
            "principal": "cluster.local/ns/payments/sa/checkout",
            "identity": str(world.checkout),
            "count": 3,
            "last_seen": None,
            "granted_by": None,
        }
        assert stripe["request_body"] == {
            "team": "payments",
            "identities": [f"{world.cluster.name}/payments/checkout"],
            "destinations": [{"host": "api.stripe.com", "port": 443, "protocol": "tls"}],
        }
        assert rows["203.0.113.40"]["request_body"]["destinations"] == [
            {"host": "203.0.113.40", "port": 5432, "protocol": "tcp"}
        ]
        assert rows["203.0.113.40"]["identities"][0]["identity"] is None

    def test_the_prefilled_body_is_accepted_as_a_request(self, clients, world, observed):
        body = clients.dev.get(url(observed.pk, "readiness/")).json()
        [stripe] = [row for row in body["destinations"] if row["host"] == "api.stripe.com"]
        created = clients.dev.post(f"{API}/requests/", {**stripe["request_body"], "justification": "Card payments."})
        assert created.status_code == 201, created.content

    def test_bad_window(self, clients, world, observed):
        assert_error(clients.dev.get(url(observed.pk, "readiness/?days=0")), 400, "validation_error", "days")
        assert_error(clients.dev.get(url(observed.pk, "readiness/?days=abc")), 400, "validation_error", "days")


class SwitchApiTests:
    def test_preview_then_enforce(self, clients, world, observed, django_capture_on_commit_callbacks):
        preview = clients.lead.get(url(observed.pk, "enforcement-preview/?enforcement=enforce")).json()
        assert {row["host"] for row in preview["would_block"]} == {"api.stripe.com", "203.0.113.40"}
        added = {(c["kind"], c["namespace"], c["name"]) for c in preview["objects"]["added"]}
        assert added == {("NetworkPolicy", "payments", "egressui-egress")}
        assert {c["kind"] for c in preview["objects"]["changed"]} == {"Sidecar", "Telemetry"}
        ClusterSyncState.objects.update(needs_reconcile=False)
        with django_capture_on_commit_callbacks() as callbacks:
            response = clients.lead.post(url(observed.pk, "enforcement/"), {"enforcement": "enforce"})
        assert response.status_code == 200 and response.json()["enforcement"] == "enforce"
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile and callbacks
        event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED)
        assert (event.actor, event.after["enforcement"]) == (world.lead, "enforce")

    def test_refusals_name_the_reason(self, clients, world, observed):
        assert_error(
            clients.dev.post(url(observed.pk, "enforcement/"), {"enforcement": "enforce"}), 403, "permission_denied"
        )
        assert_error(
            clients.lead.post(url(observed.pk, "enforcement/"), {"enforcement": "observe"}),
            409,
            "transition_not_allowed",
        )
        assert_error(
            clients.lead.post(url(observed.pk, "enforcement/"), {"enforcement": "strict"}),
            400,
            "validation_error",
            "enforcement",
        )
        GrantFactory(identity=world.checkout)
        clients.lead.post(url(observed.pk, "enforcement/"), {"enforcement": "enforce"})
        assert_error(
            clients.lead.post(url(observed.pk, "enforcement/"), {"enforcement": "observe", "reason": ""}),
            400,
            "validation_error",
            "reason",
        )
        assert not AuditEvent.objects.filter(
            event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED, after__enforcement="observe"
        ).exists()
        assert_error(clients.lead.get(url(observed.pk, "enforcement-preview/")), 400, "validation_error", "enforcement")

    def test_read_only_tokens_cannot_switch(self, world, observed):
        from tests.policies.api.conftest import token_client

        reader = token_client(world.lead, read_only=True, name="reader")
        assert reader.post(url(observed.pk, "enforcement/"), {"enforcement": "enforce"}).status_code == 403
        assert Namespace.objects.get(pk=observed.pk).enforcement == "observe"


class OverviewApiTests:
    def test_per_cluster_states_and_traffic(self, clients, world, observed):
        body = clients.admin.get(f"{API}/namespaces/overview/?days=7").json()
        assert body["days"] == 7
        [cluster] = body["clusters"]
        assert (cluster["enforced"], cluster["observed"], cluster["would_block"]) == (1, 1, 4)
        rows = {row["name"]: row for row in cluster["namespaces"]}
        assert (rows["payments"]["enforcement"], rows["payments"]["would_block"]) == ("observe", 4)
        mine = clients.dev.get(f"{API}/namespaces/overview/").json()
        assert [row["name"] for row in mine["clusters"][0]["namespaces"]] == ["payments"]
        assert clients.secops.get(f"{API}/namespaces/overview/").json()["clusters"] == []
        assert_error(clients.admin.get(f"{API}/namespaces/overview/?cluster=nope"), 404, "not_found")
