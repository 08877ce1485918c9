"""The istio-ambient renderer (reference §7): validation against the Istio and Gateway API CRDs, and
what differs from the sidecar mode on purpose (golden files per protocol: test_golden.py)."""

import pytest

from policies.manifests import dump_yaml
from policies.manifests.ambient import DEFAULT_DENY_NAME, TELEMETRY_NAME, ambient_rules, istio_minor
from policies.manifests.kinds import kind_key
from tests.policies.manifests.cases import (
    AMBIENT_CASES,
    broad_grants,
    cluster,
    find,
    grant,
    kinds,
    render_ambient,
)

WAYPOINT = "Gateway.gateway.networking.k8s.io"


class AmbientValidationTests:
    @pytest.mark.parametrize("case", sorted(AMBIENT_CASES))
    def test_each_golden_case(self, validator, case):
        grants, overrides = AMBIENT_CASES[case]
        validator.assert_valid(render_ambient(grants, **overrides).objects)

    def test_broad_fixture_set(self, validator):
        result = render_ambient(broad_grants(), namespaces=[("team-00", "observe")])
        assert {kind_key(obj) for obj in result.objects} == {
            WAYPOINT,
            "ServiceEntry",
            "DestinationRule",
            "AuthorizationPolicy",
            "NetworkPolicy",
            "Telemetry",
        }
        validator.assert_valid(result.objects)

    def test_the_checker_catches_a_bad_waypoint(self, validator):
        waypoint = find(render_ambient([]), "Gateway", "egress-waypoint")
        waypoint["spec"]["listeners"].append(dict(waypoint["spec"]["listeners"][0]))
        assert any("Listener name must be unique" in error for error in validator.errors(waypoint))
        waypoint["spec"]["listenrs"] = []
        assert any("listenrs" in error for error in validator.errors(waypoint))


class WaypointTests:
    def test_waypoint_gateway_and_the_entries_bound_to_it(self):
        result = render_ambient([grant(1, "payments", "checkout", "api.stripe.com")])
        [waypoint] = [obj for obj in result.objects if kind_key(obj) == WAYPOINT]
        assert waypoint["apiVersion"] == "gateway.networking.k8s.io/v1"
        assert waypoint["metadata"]["labels"]["istio.io/waypoint-for"] == "service"
        assert waypoint["spec"] == {
            "gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
        }
        entry = find(result, "ServiceEntry", "api-stripe-com")
        assert entry["metadata"]["labels"]["istio.io/use-waypoint"] == "egress-waypoint"
        assert "istio.io/use-waypoint-namespace" not in entry["metadata"]["labels"]
        assert result.objects[0] is waypoint  # applied first: entries bound to it need it

    def test_platform_waypoint_is_only_referred_to(self):
        result = render_ambient(
            [grant(1, "payments", "checkout", "api.stripe.com")],
            waypoint_managed_by_platform=True,
            waypoint_name="shared",
            waypoint_namespace="mesh-egress",
        )
        assert not [obj for obj in result.objects if kind_key(obj) == WAYPOINT]
        entry = find(result, "ServiceEntry", "api-stripe-com")
        assert entry["metadata"]["labels"]["istio.io/use-waypoint"] == "shared"
        assert entry["metadata"]["labels"]["istio.io/use-waypoint-namespace"] == "mesh-egress"
        assert entry["spec"]["exportTo"] == [".", "mesh-egress", "payments"]  # the waypoint must see it
        deny = find(result, "AuthorizationPolicy", DEFAULT_DENY_NAME, "mesh-egress")
        assert deny["spec"] == {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared"}],
            "action": "ALLOW",
        }

    def test_grants_in_the_waypoint_namespace_are_refused(self):
        result = render_ambient([grant(1, "mesh-egress", "x", "api.stripe.com")], waypoint_namespace="mesh-egress")
        assert [item.namespace for item in result.unrenderable] == ["mesh-egress"]

    def test_access_log_telemetry_targets_the_waypoint(self):
        telemetry = find(render_ambient([]), "Telemetry", TELEMETRY_NAME)
        assert telemetry["spec"]["targetRefs"][0]["name"] == "egress-waypoint"
        assert not kinds(render_ambient([], access_log_provider=""), "Telemetry")


class PerHostTests:
    def test_policy_targets_the_entry_with_principals_ports_and_sni(self):
        result = render_ambient(
            [
                grant(1, "payments", "checkout", "api.example.com"),
                grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
            ]
        )
        policy = find(result, "AuthorizationPolicy", "api-example-com")
        assert policy["spec"]["targetRefs"] == [
            {"group": "networking.istio.io", "kind": "ServiceEntry", "name": "api-example-com"}
        ]
        assert policy["spec"]["rules"] == [
            {
                "from": [{"source": {"principals": ["cluster.local/ns/search/sa/indexer"]}}],
                "to": [{"operation": {"ports": ["80"]}}],
            },
            {
                "from": [{"source": {"principals": ["cluster.local/ns/payments/sa/checkout"]}}],
                "to": [{"operation": {"ports": ["443"]}}],
                "when": [{"key": "connection.sni", "values": ["api.example.com"]}],
            },
        ]
        entry = find(result, "ServiceEntry", "api-example-com")["spec"]
        assert entry["ports"] == [
            {"number": 80, "name": "http-80", "protocol": "HTTP", "targetPort": 443},
            {"number": 443, "name": "tls-443", "protocol": "TLS"},
        ]
        assert entry["resolution"] == "DNS" and entry["exportTo"] == [".", "payments", "search"]
        # Origination on port 80 only: the app's own TLS on 443 passes through untouched.
        rule = find(result, "DestinationRule", "originate-api-example-com")["spec"]
        assert rule["trafficPolicy"]["portLevelSettings"] == [
            {
                "port": {"number": 80},
                "tls": {
                    "mode": "SIMPLE",
                    "sni": "api.example.com",
                    "subjectAltNames": ["api.example.com"],
                    "caCertificates": "/etc/ssl/certs/ca-certificates.crt",
                },
            }
        ]

    def test_objects_grow_with_hosts_not_grants(self):
        grants = [grant(i, f"ns-{i % 5}", f"sa-{i}", "api.stripe.com") for i in range(1, 200)]
        result = render_ambient(grants)
        assert len(kinds(result, "ServiceEntry")) == 1
        assert len([o for o in kinds(result, "AuthorizationPolicy") if o["metadata"]["name"] != DEFAULT_DENY_NAME]) == 1
        assert find(result, "ServiceEntry", "api-stripe-com")["spec"]["exportTo"] == [
            ".",
            *(f"ns-{i}" for i in range(5)),
        ]

    def test_tcp_pool_listed_address_by_address_and_direct_needs_only_the_network_policy(self):
        result = render_ambient(
            [
                grant(1, "payments", "refunds", "203.0.113.0/30", 5432, "tcp"),
                grant(2, "payments", "cache", "198.51.100.0/28", 6379, "tcp", tcp_direct=True),
            ]
        )
        [entry] = kinds(result, "ServiceEntry")
        assert entry["spec"]["addresses"] == ["203.0.113.1", "203.0.113.2"]  # ztunnel matches exact addresses
        assert entry["spec"]["resolution"] == "STATIC"
        policy = find(result, "NetworkPolicy", "egressui-egress", "payments")
        assert {"to": [{"ipBlock": {"cidr": "198.51.100.0/28"}}], "ports": [{"protocol": "TCP", "port": 6379}]} in (
            policy["spec"]["egress"]
        )

    def test_wide_tcp_range_is_unrenderable_as_in_sidecar_mode(self):
        result = render_ambient([grant(1, "payments", "refunds", "10.0.0.0/16", 5432, "tcp")])
        assert "Narrow the range" in result.unrenderable[0].reason


class WildcardTests:
    @pytest.mark.parametrize(
        ("version", "protocol", "dynamic"),
        [
            ("1.30", "tls", True),
            ("1.29.2", "tls", False),
            ("1.28", "http", True),
            ("1.28", "http-originate", True),
            ("1.27", "http", False),
            ("", "http", False),
        ],
    )
    def test_dynamic_dns_follows_the_istio_version(self, version, protocol, dynamic):
        port = 80 if protocol == "http" else 443
        result = render_ambient([grant(1, "search", "indexer", "*.example.net", port, protocol)], istio_version=version)
        if dynamic:
            assert not result.unrenderable
            entry = find(result, "ServiceEntry", "wildcard---example-net")["spec"]
            assert entry["resolution"] == "DYNAMIC_DNS" and entry["hosts"] == ["*.example.net"]
        else:
            [item] = result.unrenderable
            assert "DYNAMIC_DNS" in item.reason and "Istio version" in item.reason
            assert not kinds(result, "ServiceEntry")

    def test_expanded_hosts_win_and_serving_hosts_do_not_apply(self):
        result = render_ambient(
            [
                grant(1, "search", "indexer", "*.example.org", expanded_hosts=("a.example.org",)),
                grant(2, "search", "indexer", "*.wikipedia.org"),
            ],
            wildcard_serving_hosts=(("*.wikipedia.org", "www.wikipedia.org"),),
        )
        assert {o["spec"]["hosts"][0] for o in kinds(result, "ServiceEntry")} == {"a.example.org", "*.wikipedia.org"}
        wildcard = find(result, "ServiceEntry", "wildcard---wikipedia-org")["spec"]
        assert wildcard["resolution"] == "DYNAMIC_DNS"
        # The proxy resolves the name the client asked for: SNI, not the entry, picks the host.
        policy = find(result, "AuthorizationPolicy", "wildcard---wikipedia-org")["spec"]
        assert "when" not in policy["rules"][0]

    def test_istio_minor(self):
        assert istio_minor("1.30.3") == (1, 30) and istio_minor("1.30") == (1, 30)
        assert istio_minor("latest") is None and istio_minor("") is None
        assert ambient_rules(cluster(istio_version="1.28")).dynamic_wildcard("tcp")


class NamespaceStateTests:
    def test_enforced_gets_hbone_to_the_waypoint_dns_and_no_istiod(self):
        result = render_ambient([], namespaces=[("ledger", "enforce"), ("sandbox", "observe")])
        policy = find(result, "NetworkPolicy", "egressui-egress", "ledger")["spec"]["egress"]
        assert policy[1] == {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-egress"}},
                    "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "egress-waypoint"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 15008}],
        }
        assert "15012" not in dump_yaml([find(result, "NetworkPolicy", "egressui-egress", "ledger")])
        assert policy[-1] == {"to": [{"namespaceSelector": {}}]}  # in_cluster_egress: allow
        # Observed: nothing per namespace (no Sidecar exists in ambient; ztunnel logs every connection).
        assert not [o for o in result.objects if o["metadata"]["namespace"] == "sandbox"]

    def test_restrict_drops_the_in_cluster_rules(self):
        result = render_ambient([], namespaces=[("ledger", "enforce")], in_cluster_egress="restrict")
        egress = find(result, "NetworkPolicy", "egressui-egress", "ledger")["spec"]["egress"]
        assert len(egress) == 2

    def test_same_names_as_sidecar_mode_where_the_object_carries_over(self):
        from tests.policies.manifests.cases import render

        grants = [grant(1, "payments", "checkout", "api.stripe.com")]
        sidecar = {(kind_key(o), o["metadata"]["namespace"], o["metadata"]["name"]) for o in render(grants).objects}
        ambient = {
            (kind_key(o), o["metadata"]["namespace"], o["metadata"]["name"]) for o in render_ambient(grants).objects
        }
        # A mode migration updates these in place instead of deleting and re-creating them.
        assert {
            ("ServiceEntry", "istio-egress", "api-stripe-com"),
            ("AuthorizationPolicy", "istio-egress", "api-stripe-com"),
            ("NetworkPolicy", "payments", "egressui-egress"),
        } <= sidecar & ambient


def test_no_host_can_take_the_default_deny_name():
    from policies.manifests.names import host_object_name

    # A host has a dot, so its object name has a single hyphen; the policy's name has none.
    assert "-" not in DEFAULT_DENY_NAME.replace("--", "")
    assert host_object_name("egressui.waypoint.default.deny") != DEFAULT_DENY_NAME
