"""Parsing and classifying single lines: both formats, every verdict, and every kind of bad input."""

from datetime import UTC, datetime, timedelta

import pytest

from policies.accesslog import BodyError, LineError, LineParser, iter_body_records
from policies.accesslog.parse import normalize_log_host
from tests.policies.accesslog.support import FIXTURE_DAY, fixture_bytes, source_line

NOW = FIXTURE_DAY + timedelta(hours=1)
PARSER = LineParser(cluster_name="prod-eu", oldest=NOW - timedelta(days=90), newest=NOW + timedelta(minutes=15))


def parse(**fields):
    return PARSER.parse({"start_time": "2026-08-20T10:15:02.311Z", **fields})


def rejection(**fields) -> str:
    with pytest.raises(LineError) as caught:
        parse(**fields)
    return caught.value.message


def fixture_results() -> list:
    results = []
    for number, record in iter_body_records(fixture_bytes(), max_line_bytes=16384):
        if isinstance(record, LineError):
            results.append((number, record))
            continue
        try:
            results.append((number, PARSER.parse(record)))
        except LineError as exc:
            results.append((number, exc))
    return results


class FixtureLineTests:
    """Each realistic line of the fixture file, read as the gateway wrote it."""

    def test_every_line_gets_the_expected_verdict_or_rejection(self):
        results = dict(fixture_results())
        expected = {
            1: ("cluster.local/ns/payments/sa/checkout", "api.stripe.com", "allowed", 443),
            2: ("cluster.local/ns/payments/sa/checkout", "api.stripe.com", "allowed", 443),
            3: ("cluster.local/ns/payments/sa/refunds", "api.stripe.com", "denied", 443),
            4: ("cluster.local/ns/search/sa/indexer", "legacy.example.org", "denied", 443),
            # A sidecar's line in Istio's default format: refused in the pod, original destination known.
            5: ("", "unknown.example.net", "blocked_at_source", 443),
            6: ("cluster.local/ns/payments/sa/checkout", "not-granted.example.com", "no_route", None),
            7: ("cluster.local/ns/payments/sa/checkout", "api.stripe.com", "upstream_failure", 443),
            11: ("cluster.local/ns/search/sa/indexer", "xn--bcher-kva.example", "no_route", 80),
            12: ("cluster.local/ns/search/sa/indexer", "*.wikipedia.org", "allowed", 443),
            13: ("cluster.local/ns/payments/sa/refunds", "203.0.113.0-28.p5432.tcp.egress.internal", "allowed", 5432),
            15: ("other-mesh.example/ns/payments/sa/checkout", "api.stripe.com", "allowed", 443),
        }
        for number, (principal, host, verdict, port) in expected.items():
            event = results[number]
            assert (event.principal, event.host, event.verdict, event.port) == (principal, host, verdict, port), number
        assert {number for number, result in results.items() if isinstance(result, LineError)} == {8, 9, 10, 14}

    def test_rejections_name_the_field_and_the_reason(self):
        results = dict(fixture_results())
        assert results[8].message.startswith("the line is not JSON")
        assert results[9].message == "bytes_sent: expected a whole number, got 'lots'"
        assert results[10].message.startswith("start_time: missing")
        assert results[14].message == f"bytes_received: {10**18} is outside 0–{2**50}"

    def test_details_explain_refusals(self):
        results = dict(fixture_results())
        assert results[3].detail == "rbac_access_denied_matched_policy[none]"
        assert results[4].detail == "403"
        assert results[5].detail == "BlackHoleCluster 198.51.100.7:443"
        assert results[6].detail == "NR"
        assert results[7].detail == "UF,URX delayed connect error: 111"
        assert results[1].detail == ""

    def test_times_are_utc_and_bytes_are_kept(self):
        event = dict(fixture_results())[1]
        assert event.time == datetime(2026, 8, 20, 10, 15, 2, 311000, tzinfo=UTC)
        assert (event.bytes_sent, event.bytes_received) == (6021, 1534)


class ClassificationTests:
    @pytest.mark.parametrize(
        ("fields", "verdict"),
        [
            ({"response_flags": "-"}, "allowed"),
            ({"response_flags": "DC"}, "allowed"),
            ({"response_code": 200, "response_code_details": "via_upstream"}, "allowed"),
            ({"response_code": 403, "response_code_details": "via_upstream"}, "allowed"),
            ({"response_code": 403}, "denied"),
            ({"response_code": 403, "response_code_details": "rbac_access_denied_matched_policy[none]"}, "denied"),
            (
                {"connection_termination_details": "rbac_access_denied_matched_policy[ns[egress]-policy[x]-rule[0]]"},
                "denied",
            ),
            ({"response_flags": "UAEX", "response_code": 403}, "denied"),
            ({"response_flags": "NR"}, "no_route"),
            ({"response_flags": "NoRouteFound"}, "no_route"),
            ({"response_flags": "NC"}, "no_route"),
            ({"upstream_cluster": "BlackHoleCluster", "response_flags": "UH"}, "blocked_at_source"),
            ({"route_name": "block_all", "response_code": 502}, "blocked_at_source"),
            ({"upstream_cluster": "PassthroughCluster"}, "observed"),
            ({"upstream_cluster": "PassthroughCluster", "response_flags": "UF"}, "observed"),
            ({"route_name": "allow_any", "upstream_cluster": "PassthroughCluster", "response_code": 403}, "observed"),
            ({"route_name": "api.example.com:443"}, "allowed"),
            ({"response_flags": "UF"}, "upstream_failure"),
            ({"response_flags": "UH"}, "upstream_failure"),
            ({"response_flags": "DC,UT"}, "upstream_failure"),
            ({"response_flags": "UpstreamConnectionFailure"}, "upstream_failure"),
            ({"upstream_transport_failure_reason": "TLS_error:|268435581:SSL routines"}, "upstream_failure"),
        ],
    )
    def test_verdict(self, fields, verdict):
        assert parse(sni="api.example.com", **fields).verdict == verdict

    def test_a_denial_wins_over_an_upstream_failure(self):
        event = parse(response_flags="UF", connection_termination_details="rbac_access_denied_matched_policy[none]")
        assert event.verdict == "denied"


class HostAndPrincipalTests:
    def test_sni_wins_over_authority_and_upstream_cluster(self):
        event = parse(sni="a.example.com", authority="b.example.com", upstream_cluster="outbound|443||c.example.com")
        assert event.host == "a.example.com"

    def test_authority_port_and_case_are_normalised(self):
        event = parse(authority="API.Example.COM.:8080")
        assert (event.host, event.port) == ("api.example.com", 8080)

    def test_ipv6_authority(self):
        assert parse(authority="[2001:db8::1]:443").host == "2001:db8::1"

    def test_upstream_cluster_names_the_host_when_nothing_else_does(self):
        event = parse(upstream_cluster="outbound|8443||svc.example.com")
        assert (event.host, event.port) == ("svc.example.com", 8443)

    def test_no_host_at_all_is_kept_as_unknown(self):
        assert parse(response_flags="NR").host == ""

    def test_dash_means_empty(self):
        event = parse(sni="-", authority="-", source_principal="-", bytes_sent="-")
        assert (event.host, event.principal, event.bytes_sent) == ("", "", 0)

    def test_spiffe_prefix_is_dropped_and_only_the_first_san_counts(self):
        event = parse(downstream_peer_uri_san="spiffe://cluster.local/ns/a/sa/b,spiffe://cluster.local/ns/c/sa/d")
        assert event.principal == "cluster.local/ns/a/sa/b"

    def test_unicode_host_becomes_punycode(self):
        assert normalize_log_host("Bücher.Example") == "xn--bcher-kva.example"

    @pytest.mark.parametrize("host", ["not a host", "a..b", "exa$mple.com", "x" * 254])
    def test_invalid_hosts_are_rejected_with_the_field(self, host):
        assert rejection(sni=host).startswith("sni: ")

    def test_invalid_principals_are_rejected(self):
        assert rejection(source_principal="spiffe://has space/ns/a/sa/b").startswith("source_principal: ")


class BadInputTests:
    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"start_time": 1724148902}, "start_time: expected an ISO 8601 time, got int"),
            ({"start_time": "yesterday"}, "start_time: 'yesterday' is not an ISO 8601 time"),
            (
                {"start_time": "2025-01-01T00:00:00Z"},
                "start_time: 2025-01-01T00:00:00Z is older than the retention period",
            ),
            ({"start_time": "2026-08-21T00:00:00Z"}, "start_time: 2026-08-21T00:00:00Z is in the future"),
            ({"sni": ["a.example.com"]}, "sni: expected text, got a list"),
            ({"bytes_sent": -1}, "bytes_sent: -1 is outside 0–1125899906842624"),
            ({"bytes_sent": True}, "bytes_sent: expected a whole number, got true/false"),
            ({"bytes_received": 1.5}, "bytes_received: expected a whole number, got float"),
            ({"response_code": "abc"}, "response_code: expected a whole number, got 'abc'"),
            ({"cluster": "staging"}, "cluster: the line is from cluster 'staging', this feed is for 'prod-eu'"),
        ],
    )
    def test_rejected_with_a_message_naming_the_field(self, fields, message):
        assert rejection(**fields) == message

    def test_numbers_as_digit_strings_and_whole_floats_are_accepted(self):
        event = parse(bytes_sent="42", bytes_received=7.0)
        assert (event.bytes_sent, event.bytes_received) == (42, 7)

    def test_the_right_cluster_name_is_accepted(self):
        assert parse(cluster="prod-eu").verdict == "allowed"

    def test_a_naive_time_is_read_as_utc(self):
        assert parse(start_time="2026-08-20T10:15:02").time.tzinfo == UTC

    def test_a_record_that_is_not_an_object(self):
        with pytest.raises(LineError, match="expected a JSON object, got a list"):
            PARSER.parse([1, 2])

    def test_a_container_log_wrapper_is_unwrapped(self):
        inner = '{"start_time":"2026-08-20T10:15:02Z","sni":"api.example.com"}'
        assert PARSER.parse({"log": inner, "stream": "stdout"}).host == "api.example.com"
        with pytest.raises(LineError, match="log: the wrapped log line is not JSON"):
            PARSER.parse({"log": "[info] starting envoy", "stream": "stdout"})


class BodyTests:
    def test_json_lines_are_numbered_by_physical_line_including_blank_ones(self):
        body = b'{"a": 1}\n\n  \r\n{"b": 2}\nnope\n'
        items = list(iter_body_records(body, max_line_bytes=100))
        assert [number for number, _ in items] == [1, 4, 5]
        assert isinstance(items[2][1], LineError)

    def test_a_json_array_is_numbered_by_element(self):
        items = list(iter_body_records(b' [{"a": 1}, 2, {"b": 3}]', max_line_bytes=100))
        assert items == [(1, {"a": 1}), (2, 2), (3, {"b": 3})]

    def test_a_broken_json_array_is_a_body_error(self):
        with pytest.raises(BodyError, match="not valid JSON"):
            list(iter_body_records(b'[{"a": 1},', max_line_bytes=100))

    def test_overlong_and_non_utf8_lines_are_rejected_alone(self):
        body = b'{"a": "' + b"x" * 200 + b'"}\n{"b": "\xff"}\n{"c": 1}'
        items = list(iter_body_records(body, max_line_bytes=100))
        assert items[0][1].message == "the line is 209 bytes long; the limit is 100"
        assert items[1][1].message == "the line is not UTF-8 text"
        assert items[2] == (3, {"c": 1})


class VerdictCacheTests:
    """Verdicts are cached by the raw fields; a cached combination must not let bad values through."""

    def test_true_is_not_taken_for_the_cached_response_code_1(self):
        assert parse(response_code=1).verdict == "allowed"
        assert rejection(response_code=True) == "response_code: expected a whole number, got true/false"

    def test_unhashable_values_are_still_rejected_by_field(self):
        assert parse(response_flags="NR").verdict == "no_route"
        assert rejection(response_flags=["NR"]) == "response_flags: expected text, got a list"
        assert parse(response_flags="NR").verdict == "no_route"


class SourceSidecarLineTests:
    """Lines of the source provider: a workload's own sidecar, at its catch-all cluster."""

    def parse_source(self, *args, **kwargs):
        return PARSER.parse(source_line(*args, at=NOW - timedelta(minutes=5), **kwargs))

    def test_the_proxys_own_identity_becomes_the_principal(self):
        corp = LineParser(
            cluster_name="prod-eu",
            oldest=NOW - timedelta(days=1),
            newest=NOW + timedelta(minutes=15),
            trust_domain="corp.example",
        )
        event = corp.parse(source_line("reports", "exporter", sni="api.example.com", at=NOW))
        assert event.principal == "corp.example/ns/reports/sa/exporter"
        assert self.parse_source("reports", "exporter", sni="a.example.com").principal == (
            "cluster.local/ns/reports/sa/exporter"
        )

    def test_verdict_protocol_port_and_detail(self):
        observed = self.parse_source("reports", "exporter", sni="api.example.com", original="198.51.100.9:8443")
        assert (observed.verdict, observed.host, observed.port, observed.protocol) == (
            "observed",
            "api.example.com",
            8443,
            "tls",
        )
        assert observed.detail == "PassthroughCluster 198.51.100.9:8443"
        http = self.parse_source("reports", "exporter", authority="feeds.example.org", original="198.51.100.30:80")
        assert (http.host, http.port, http.protocol) == ("feeds.example.org", 80, "http")
        tcp = self.parse_source("reports", "scheduler", original="203.0.113.40:5432")
        assert (tcp.host, tcp.port, tcp.protocol) == ("203.0.113.40", 5432, "tcp")
        v6 = self.parse_source("reports", "scheduler", original="[2001:db8::7]:22")
        assert (v6.host, v6.port) == ("2001:db8::7", 22)
        blocked = self.parse_source("ledger", "ledger", sni="x.example.com", catch_all="BlackHoleCluster")
        assert (blocked.verdict, blocked.protocol) == ("blocked_at_source", "tls")

    def test_http_refused_by_the_block_all_route_has_no_cluster(self):
        event = self.parse_source(
            "ledger", "ledger", authority="api.example.com", catch_all=None, route_name="block_all", response_code=502
        )
        assert (event.verdict, event.host, event.protocol, event.detail) == (
            "blocked_at_source",
            "api.example.com",
            "http",
            "block_all 198.51.100.9:443",
        )

    def test_a_gateway_principal_wins_and_half_an_identity_is_none(self):
        event = self.parse_source(
            "reports", "exporter", sni="a.example.com", source_principal="spiffe://cluster.local/ns/x/sa/y"
        )
        assert event.principal == "cluster.local/ns/x/sa/y"
        assert self.parse_source("reports", None, sni="a.example.com").principal == ""

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"source_namespace": "Reports!"}, "source_namespace: 'Reports!' is not a namespace name"),
            ({"source_service_account": "a b"}, "source_service_account: 'a b' is not a service account name"),
            ({"downstream_local_address": "not an address"}, "downstream_local_address: 'not an address'"),
            ({"source_namespace": 7}, "source_namespace: expected text"),
        ],
    )
    def test_bad_identity_or_address_names_the_field(self, fields, message):
        record = {**source_line("reports", "exporter", at=NOW), **fields}
        with pytest.raises(LineError) as caught:
            PARSER.parse(record)
        assert caught.value.message.startswith(message)
