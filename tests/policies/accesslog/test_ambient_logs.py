"""istio-ambient monitoring: the waypoint's access log (the gateway's Envoy JSON format, with the
waypoint's cluster names) and ztunnel's connection lines, text and JSON (docs/monitoring.md)."""

from datetime import UTC, datetime, timedelta

import pytest

from policies.accesslog import LineError, LineParser, iter_body_records
from policies.accesslog.ztunnel import parse_text

NOW = datetime(2026, 8, 20, 11, 0, tzinfo=UTC)
PARSER = LineParser(cluster_name="amb", oldest=NOW - timedelta(days=90), newest=NOW + timedelta(minutes=15))
CHECKOUT = "spiffe://cluster.local/ns/payments/sa/checkout"
# ztunnel's text format as it writes it (tab-separated head, then key=value pairs).
TEXT = (
    "2026-08-20T10:15:02.500000Z\tinfo\taccess\tconnection complete\tsrc.addr=10.1.7.33:40122 "
    'src.workload="checkout-6d9f" src.namespace="payments" '
    'src.identity="spiffe://cluster.local/ns/payments/sa/checkout" '
    'dst.addr=198.51.100.9:443 direction="outbound" bytes_sent=517 bytes_recv=4096 duration="200ms"'
)


def ztunnel(**fields) -> dict:
    base = {
        "time": "2026-08-20T10:15:02.500Z",
        "level": "info",
        "scope": "access",
        "message": "connection complete",
        "src.addr": "10.1.7.33:40122",
        "src.identity": CHECKOUT,
        "dst.addr": "198.51.100.9:443",
        "direction": "outbound",
        "bytes_sent": 517,
        "bytes_recv": 4096,
        "duration": "200ms",
    }
    return {**base, **fields}


class WaypointLineTests:
    def test_waypoint_lines_read_like_the_gateways(self):
        event = PARSER.parse(
            {
                "start_time": "2026-08-20T10:15:02.311Z",
                "source_principal": CHECKOUT,
                "upstream_cluster": "inbound-vip|443|tcp|api.stripe.com",
                "response_flags": "-",
                "bytes_sent": 10,
                "bytes_received": 20,
            }
        )
        assert (event.principal, event.host, event.port, event.verdict) == (
            "cluster.local/ns/payments/sa/checkout",
            "api.stripe.com",
            443,
            "allowed",
        )

    def test_a_waypoint_rbac_denial(self):
        event = PARSER.parse(
            {
                "start_time": "2026-08-20T10:15:02.311Z",
                "source_principal": CHECKOUT,
                "sni": "api.stripe.com",
                "connection_termination_details": "rbac_access_denied_matched_policy[none]",
            }
        )
        assert event.verdict == "denied" and event.host == "api.stripe.com"


class ZtunnelLineTests:
    def test_a_completed_connection_past_the_mesh_is_observed(self):
        event = PARSER.parse(ztunnel())
        assert (event.principal, event.host, event.port, event.verdict, event.protocol) == (
            "cluster.local/ns/payments/sa/checkout",
            "198.51.100.9",
            443,
            "observed",
            "tcp",
        )
        assert event.time == datetime(2026, 8, 20, 10, 15, 2, 300000, tzinfo=UTC)  # end minus duration
        assert (event.bytes_sent, event.bytes_received) == (517, 4096)

    @pytest.mark.parametrize(
        ("error", "verdict"),
        [
            ("io error: deadline has elapsed", "blocked_at_source"),
            ("connection timed out", "blocked_at_source"),
            ("connection refused", "upstream_failure"),
        ],
    )
    def test_errors(self, error, verdict):
        event = PARSER.parse(ztunnel(level="error", error=error))
        assert event.verdict == verdict and event.detail == f"ztunnel: {error}"

    @pytest.mark.parametrize(
        "fields",
        [
            {"dst.hbone_addr": "240.240.0.3:443", "dst.service": "api.stripe.com"},  # via the waypoint
            {"dst.workload": "ledger-0", "dst.addr": "10.1.9.4:15008"},  # a pod in the mesh
            {"dst.service": "kubernetes.default.svc.cluster.local"},  # a known service
            {"direction": "inbound"},
        ],
    )
    def test_lines_about_the_mesh_are_skipped(self, fields):
        assert PARSER.parse(ztunnel(**fields)) is None

    def test_bad_fields_are_named(self):
        with pytest.raises(LineError, match="^src.identity"):
            PARSER.parse(ztunnel(**{"src.identity": "not a principal"}))
        with pytest.raises(LineError, match="^dst.addr"):
            PARSER.parse(ztunnel(**{"dst.addr": ""}))
        with pytest.raises(LineError, match="^time"):
            PARSER.parse(ztunnel(time="yesterday"))

    def test_the_text_format_is_read_like_the_json_one(self):
        record = parse_text(TEXT)
        assert record["src.namespace"] == "payments" and record["bytes_sent"] == 517
        event = PARSER.parse(record)
        assert event.verdict == "observed" and event.principal == "cluster.local/ns/payments/sa/checkout"
        body = (TEXT + "\nnot a log line\n").encode()
        results = list(iter_body_records(body, max_line_bytes=16384))
        assert results[0][1] == record and isinstance(results[1][1], LineError)
        assert parse_text("2026-08-20T10:15:02Z\tinfo\txds\tconnected") is None
