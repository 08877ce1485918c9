"""Ingesting an ambient cluster's feed: waypoint lines tied to grants like the gateway's, ztunnel lines
about traffic past the mesh counted as observed or blocked at source, lines about the mesh skipped."""

from datetime import timedelta

import pytest

from policies.accesslog import iter_body_records
from policies.choices import Protocol
from policies.models import AccessRecord, Cluster, ClusterIngestState
from policies.services.access_logs import access_log_ingest
from tests.factories import GrantFactory
from tests.policies.accesslog.support import FIXTURE_DAY, line

pytestmark = pytest.mark.django_db

NOW = FIXTURE_DAY + timedelta(hours=1)
CHECKOUT = "cluster.local/ns/payments/sa/checkout"
REFUNDS = "cluster.local/ns/payments/sa/refunds"


def ingest(cluster, *records):
    body = "\n".join(record if isinstance(record, str) else line(**record) for record in records).encode()
    return access_log_ingest(cluster=cluster, records=iter_body_records(body, max_line_bytes=16384), now=NOW)


def waypoint(principal=CHECKOUT, cluster_name="inbound-vip|443|tcp|api.stripe.com", **fields):
    return {
        "start_time": "2026-08-20T10:15:00Z",
        "source_principal": f"spiffe://{principal}",
        "upstream_cluster": cluster_name,
        "response_flags": "-",
        "bytes_sent": 100,
        "bytes_received": 10,
        **fields,
    }


def ztunnel(**fields):
    return {
        "time": "2026-08-20T10:20:00Z",
        "scope": "access",
        "message": "connection complete",
        "src.identity": f"spiffe://{CHECKOUT}",
        "dst.addr": "198.51.100.9:443",
        "direction": "outbound",
        "bytes_sent": 5,
        "bytes_recv": 7,
        **fields,
    }


@pytest.fixture
def cluster(world):
    # Test set-up, not a change under test: an update that bypasses the save path (and the audit guard).
    Cluster.objects.filter(pk=world.cluster.pk).update(enforcement_mode="istio-ambient", istio_version="1.30")
    world.cluster.refresh_from_db()
    return world.cluster


def test_waypoint_and_ztunnel_lines_are_tied_to_grants_the_same_way(cluster, world):
    valid_from = FIXTURE_DAY - timedelta(days=1)
    stripe = GrantFactory(identity=world.checkout, host="api.stripe.com", valid_from=valid_from)
    pool = GrantFactory(
        identity=world.refunds, host="203.0.113.0/30", port=5432, protocol=Protocol.TCP, valid_from=valid_from
    )
    report = ingest(
        cluster,
        waypoint(),
        waypoint(REFUNDS, connection_termination_details="rbac_access_denied_matched_policy[none]"),
        waypoint(REFUNDS, "inbound-vip|5432|tcp|203.0.113.0-30.p5432.tcp.egress.internal"),
        ztunnel(),
        ztunnel(error="io error: deadline has elapsed", **{"dst.addr": "198.51.100.10:443"}),
        ztunnel(**{"dst.hbone_addr": "240.240.0.3:443", "dst.service": "api.stripe.com"}),  # the waypoint's own
        ztunnel(direction="inbound"),
    )
    assert (report.accepted, report.rejected, report.blocked) == (5, 0, 2)  # lines about the mesh: no event
    records = {(r.source_principal, r.host, r.verdict): r for r in AccessRecord.objects.all()}
    assert set(records) == {
        (CHECKOUT, "api.stripe.com", "allowed"),
        (REFUNDS, "api.stripe.com", "denied"),
        (REFUNDS, "203.0.113.0-30.p5432.tcp.egress.internal", "allowed"),
        (CHECKOUT, "198.51.100.9", "observed"),
        (CHECKOUT, "198.51.100.10", "blocked_at_source"),
    }
    assert records[(CHECKOUT, "api.stripe.com", "allowed")].grant == stripe
    assert records[(REFUNDS, "203.0.113.0-30.p5432.tcp.egress.internal", "allowed")].grant == pool
    assert records[(REFUNDS, "api.stripe.com", "denied")].grant is None
    observed = records[(CHECKOUT, "198.51.100.9", "observed")]
    assert (observed.namespace, observed.identity, observed.grant) == (world.ns, world.checkout, None)
    assert ClusterIngestState.objects.get(cluster=cluster).lines_accepted == 5
