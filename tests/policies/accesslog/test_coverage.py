"""Which logged hosts a grant covers, and the destination a new request asks for."""

from datetime import UTC, datetime, timedelta

from policies.accesslog.coverage import GrantCover, best_grant, covered_hosts, requested_destination
from policies.manifests.names import tcp_synthetic_host

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def cover(pk, host, *, port=443, protocol="tls", expanded=(), direct=False, starts=T0, days=30, ended=None):
    return GrantCover.from_values(
        {
            "pk": pk,
            "host": host,
            "port": port,
            "protocol": protocol,
            "expanded_hosts": list(expanded),
            "tcp_direct": direct,
            "valid_from": starts,
            "expires_at": starts + timedelta(days=days),
            "ended_at": ended,
        }
    )


class CoveredHostsTests:
    def test_a_plain_host_covers_itself_only(self):
        assert covered_hosts(host="api.example.com", port=443, protocol="tls", expanded_hosts=[], tcp_direct=False) == (
            frozenset({"api.example.com"}),
            "",
        )

    def test_a_wildcard_covers_its_expanded_hosts_itself_and_any_host_under_it(self):
        exact, suffix = covered_hosts(
            host="*.example.com", port=443, protocol="tls", expanded_hosts=["a.example.com"], tcp_direct=False
        )
        assert exact == {"*.example.com", "a.example.com"} and suffix == ".example.com"

    def test_tcp_grants_cover_the_renderers_synthetic_host(self):
        exact, _ = covered_hosts(host="203.0.113.0/28", port=5432, protocol="tcp", expanded_hosts=[], tcp_direct=False)
        assert exact == {tcp_synthetic_host("203.0.113.0/28", 5432)}
        exact, _ = covered_hosts(host="203.0.113.7", port=22, protocol="tcp", expanded_hosts=[], tcp_direct=True)
        assert exact == {tcp_synthetic_host("203.0.113.7/32", 22, direct=True)}


class BestGrantTests:
    def test_exact_beats_wildcard_and_longer_wildcard_beats_shorter(self):
        covers = [cover(1, "*.example.com"), cover(2, "*.api.example.com"), cover(3, "v1.api.example.com")]
        moment = T0 + timedelta(days=1)
        assert best_grant(covers, "v1.api.example.com", 443, moment) == 3
        assert best_grant(covers, "v2.api.example.com", 443, moment) == 2
        assert best_grant(covers, "www.example.com", 443, moment) == 1
        assert best_grant(covers, "example.com", 443, moment) is None

    def test_the_matching_port_wins_between_equal_hosts(self):
        covers = [cover(1, "api.example.com", port=8443), cover(2, "api.example.com", port=443)]
        assert best_grant(covers, "api.example.com", 443, T0 + timedelta(hours=1)) == 2
        assert best_grant(covers, "api.example.com", None, T0 + timedelta(hours=1)) == 1

    def test_only_grants_in_force_at_that_moment(self):
        covers = [cover(1, "api.example.com", ended=T0 + timedelta(days=2)), cover(2, "api.example.com", days=1)]
        assert best_grant(covers, "api.example.com", 443, T0 - timedelta(seconds=1)) is None
        assert best_grant(covers, "api.example.com", 443, T0 + timedelta(hours=1)) == 1
        assert best_grant(covers, "api.example.com", 443, T0 + timedelta(days=1, hours=1)) == 1
        assert best_grant(covers, "api.example.com", 443, T0 + timedelta(days=3)) is None


class RequestedDestinationTests:
    def test_hosts_become_tls_destinations_with_their_port(self):
        assert requested_destination("api.example.com", None) == {
            "host": "api.example.com",
            "port": 443,
            "protocol": "tls",
        }
        assert requested_destination("api.example.com", 8443)["port"] == 8443
        assert requested_destination("*.example.com", 443)["host"] == "*.example.com"

    def test_port_80_becomes_plain_http(self):
        assert requested_destination("legacy.example.org", 80)["protocol"] == "http"

    def test_synthetic_tcp_hosts_become_the_cidr_or_address(self):
        assert requested_destination(tcp_synthetic_host("203.0.113.0/28", 5432), 5432) == {
            "host": "203.0.113.0/28",
            "port": 5432,
            "protocol": "tcp",
        }
        assert (
            requested_destination(tcp_synthetic_host("203.0.113.9/32", 22, direct=True), None)["host"] == "203.0.113.9"
        )
        assert requested_destination(tcp_synthetic_host("2001:db8::/64", 443), None)["host"] == "2001:db8::/64"

    def test_no_host_no_destination(self):
        assert requested_destination("", 443) is None

    def test_what_the_source_sidecar_saw_decides_the_protocol(self):
        assert requested_destination("feeds.example.org", 8080, "http") == {
            "host": "feeds.example.org",
            "port": 8080,
            "protocol": "http",
        }
        assert requested_destination("api.example.com", 80, "tls")["protocol"] == "tls"
        assert requested_destination("203.0.113.40", 5432, "tcp") == {
            "host": "203.0.113.40",
            "port": 5432,
            "protocol": "tcp",
        }

    def test_a_bare_address_is_tcp_and_needs_a_port(self):
        assert requested_destination("2001:db8::7", 22)["protocol"] == "tcp"
        assert requested_destination("203.0.113.40", None) is None
