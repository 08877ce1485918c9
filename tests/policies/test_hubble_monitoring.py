"""Monitoring a Cilium cluster from Hubble flows, end to end: the same ingest endpoint and command as
for Istio, each flow tied to its grant (allowed) or not (observed: what enforcing would block;
dropped: blocked at source), and the same pages: grant usage, denied attempts with their one-click
request, a namespace's readiness, the access map."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from policies.accesslog.hubble import flow_record
from policies.choices import AccessVerdict
from policies.models import AccessRecord, ClusterIngestState, Namespace
from policies.services.access_logs import access_log_ingest
from tests.factories import GrantFactory, fixture_save
from tests.policies.api.test_monitoring import feed, post
from tests.policies.views.test_access_map import edges

pytestmark = pytest.mark.django_db


def flow(account="checkout", namespace="payments", *, verdict="FORWARDED", names=("api.stripe.com",), **extra):
    moment = (timezone.now() - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    extra.setdefault("address", "198.51.100.7")
    extra.setdefault("port", 443)
    return flow_record(namespace, account, verdict=verdict, names=names, time=moment, **extra)


@pytest.fixture
def cilium(world):
    world.cluster.enforcement_mode = "cilium"
    fixture_save(world.cluster)
    return world


def ingress_flow():
    record = flow()
    record["flow"]["traffic_direction"] = "INGRESS"
    return record


def grant(**fields):
    """A grant in force since yesterday (the flows are minutes old)."""
    now = timezone.now()
    return GrantFactory(valid_from=now - timedelta(days=1), expires_at=now + timedelta(days=30), **fields)


def ingest(cluster, *records):
    report = access_log_ingest(cluster=cluster, records=list(enumerate(records, start=1)))
    assert report.rejected == 0, report.errors
    return report


def records(**filters):
    return {(r.source_principal, r.host, r.verdict): r for r in AccessRecord.objects.filter(**filters)}


class HubbleIngestTests:
    def test_flows_are_tied_to_grants_or_denied_attempts(self, cilium):
        used_grant = grant(identity=cilium.checkout, host="api.stripe.com")
        tcp = grant(identity=cilium.refunds, host="203.0.113.0/29", port=5432, protocol="tcp")
        report = ingest(
            cilium.cluster,
            flow(),
            flow(),
            flow(names=("api.adyen.com",)),
            flow("refunds", names=(), address="203.0.113.4", port=5432),
            flow("refunds", verdict="DROPPED", names=("pastebin.com",)),
            {"lost_events": {"num_events_lost": 2}},
            ingress_flow(),
        )
        assert (report.accepted, report.blocked) == (5, 1)
        rows = records()
        used = rows[("cluster.local/ns/payments/sa/checkout", "api.stripe.com", AccessVerdict.ALLOWED)]
        assert (used.count, used.grant_id, used.identity_id, used.port) == (2, used_grant.pk, cilium.checkout.pk, 443)
        observed = rows[("cluster.local/ns/payments/sa/checkout", "api.adyen.com", AccessVerdict.OBSERVED)]
        assert observed.grant_id is None and observed.protocol == "tls"
        address = rows[("cluster.local/ns/payments/sa/refunds", "203.0.113.4", AccessVerdict.ALLOWED)]
        assert address.grant_id == tcp.pk
        dropped = rows[("cluster.local/ns/payments/sa/refunds", "pastebin.com", AccessVerdict.BLOCKED_AT_SOURCE)]
        assert dropped.detail == "DROPPED POLICY_DENIED 198.51.100.7" and dropped.grant_id is None
        assert len(rows) == 4

    def test_a_later_batch_adds_to_the_same_rows(self, cilium):
        grant(identity=cilium.checkout, host="api.stripe.com")
        ingest(cilium.cluster, flow())
        ingest(cilium.cluster, flow(), flow())
        [row] = AccessRecord.objects.all()
        assert (row.verdict, row.count) == (AccessVerdict.ALLOWED, 3)

    def test_the_endpoint_and_the_command_take_exporter_lines(self, cilium, tmp_path):
        client, url = feed(cilium.cluster)
        body = b"".join(json.dumps(r).encode() + b"\n" for r in (flow(), flow(verdict="DROPPED")))
        response = post(client, url, body)
        assert response.status_code == 200 and response.json()["accepted"] == 2
        path = tmp_path / "hubble-export.log"
        path.write_text(json.dumps(flow(names=("pypi.org",))) + "\n" + json.dumps(flow(event_type=4)) + "\n")
        out = io.StringIO()
        call_command("ingest_access_log", "--cluster", cilium.cluster.name, str(path), stdout=out, stderr=io.StringIO())
        state = ClusterIngestState.objects.get(cluster=cilium.cluster)
        assert (state.lines_accepted, state.lines_rejected, state.lines_blocked) == (3, 1, 1)
        assert "a trace, not a policy verdict" in state.last_rejection


class HubblePagesTests:
    def test_denied_attempts_offer_the_one_click_request(self, client, cilium):
        ingest(cilium.cluster, flow("refunds", verdict="DROPPED", names=("pastebin.com",), port=443))
        client.force_login(cilium.dev)
        content = client.get(reverse("denied_attempts")).content.decode()
        link = (
            reverse("request_create")
            + f"?team=payments&amp;identity={cilium.refunds.pk}&amp;host=pastebin.com&amp;port=443&amp;protocol=tls"
        )
        assert link in content

    def test_grant_page_shows_usage(self, client, cilium):
        used = grant(identity=cilium.checkout, host="api.stripe.com")
        ingest(cilium.cluster, flow(), flow())
        client.force_login(cilium.dev)
        content = client.get(reverse("grant_detail", args=[used.pk])).content.decode()
        assert "2 in 30 days" in content
        assert '<td class="mono">cluster.local/ns/payments/sa/checkout</td>' in content

    def test_readiness_of_an_observed_namespace_lists_what_enforcing_would_block(self, client, cilium):
        Namespace.objects.filter(pk=cilium.ns.pk).update(enforcement="observe")
        grant(identity=cilium.checkout, host="api.stripe.com")
        ingest(cilium.cluster, flow(), flow(names=("api.openexchangerates.org",)))
        client.force_login(cilium.dev)
        page = client.get(reverse("namespace_detail", args=[cilium.ns.pk])).content.decode()
        assert "api.openexchangerates.org" in page
        assert "Hubble" in page and "DNS proxy" in page

    def test_the_access_map_draws_hubble_traffic_like_the_gateways(self, client, cilium):
        used = grant(identity=cilium.checkout, host="api.stripe.com")
        ingest(
            cilium.cluster,
            flow(),
            flow(names=("api.openexchangerates.org",)),
            flow("refunds", verdict="DROPPED", names=("pastebin.com",)),
        )
        client.force_login(cilium.dev)
        drawn = edges(client.get("/access-map/", {"cluster": cilium.cluster.name}))
        assert drawn[reverse("grant_detail", args=[used.pk])] == "active"
        assert sorted(drawn.values()) == ["active", "blocked", "observed"]
