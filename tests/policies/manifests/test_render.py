"""Behaviour of the renderer per protocol and feature (reference §1–§6, §8.2), asserted field by field."""

import random
from datetime import timedelta

from policies.constants import ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS, LABEL_CLUSTER, LABEL_MANAGED_BY
from policies.manifests import KINDS, content_hash, dump_yaml, object_key
from policies.manifests.kinds import kind_key
from tests.policies.manifests.cases import NOW, WIKIPEDIA, find, grant, kinds, render

GW = "istio-egressgateway.istio-egress.svc.cluster.local"


class TlsTests:
    def test_one_host_renders_variant_m(self):
        result = render([grant(1, "payments", "checkout", "api.stripe.com")])
        se = find(result, "ServiceEntry", "api-stripe-com")["spec"]
        assert se == {
            "hosts": ["api.stripe.com"],
            "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
            "resolution": "DNS",
            "exportTo": [".", "payments"],
        }
        server = find(result, "Gateway", "api-stripe-com")["spec"]["servers"]
        assert server == [
            {
                "port": {"number": 443, "name": "tls-api-stripe-com", "protocol": "TLS"},
                "hosts": ["istio-egress/api.stripe.com"],
                "tls": {"mode": "ISTIO_MUTUAL"},
            }
        ]
        rule = find(result, "DestinationRule", "egressgw-api-stripe-com")["spec"]
        assert rule["host"] == GW and rule["exportTo"] == ["*"]
        assert rule["subsets"] == [
            {
                "name": "api-stripe-com",
                "trafficPolicy": {
                    "portLevelSettings": [
                        {"port": {"number": 443}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "api.stripe.com"}}
                    ]
                },
            }
        ]
        vs = find(result, "VirtualService", "api-stripe-com")["spec"]
        assert vs["gateways"] == ["mesh", "istio-egress/api-stripe-com"]
        assert vs["tls"] == [
            {
                "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["api.stripe.com"]}],
                "route": [{"destination": {"host": GW, "subset": "api-stripe-com", "port": {"number": 443}}}],
            }
        ]
        # The gateway leg is tcp, not tls: after the outer mTLS the inner bytes pass on (reference §1.1).
        assert vs["tcp"] == [
            {
                "match": [{"gateways": ["istio-egress/api-stripe-com"], "port": 443}],
                "route": [{"destination": {"host": "api.stripe.com", "port": {"number": 443}}}],
            }
        ]
        assert "http" not in vs

    def test_authorization_policy_lists_principals_with_sni_and_pod_port(self):
        result = render(
            [
                grant(1, "payments", "checkout", "api.stripe.com"),
                grant(2, "search", "indexer", "api.stripe.com"),
                grant(3, "payments", "checkout", "other.example.com"),
            ],
            trust_domain="corp.example",
            gateway_pod_https_port=8443,
        )
        policy = find(result, "AuthorizationPolicy", "api-stripe-com")["spec"]
        assert policy == {
            "selector": {"matchLabels": {"istio": "egressgateway"}},
            "action": "ALLOW",
            "rules": [
                {
                    "from": [
                        {
                            "source": {
                                "principals": [
                                    "corp.example/ns/payments/sa/checkout",
                                    "corp.example/ns/search/sa/indexer",
                                ]
                            }
                        }
                    ],
                    "to": [{"operation": {"ports": ["8443"]}}],
                    "when": [{"key": "connection.sni", "values": ["api.stripe.com"]}],
                }
            ],
        }

    def test_non_default_port(self):
        result = render([grant(1, "payments", "checkout", "kafka.example.com", 9093)])
        vs = find(result, "VirtualService", "kafka-example-com")["spec"]
        assert vs["tls"][0]["match"][0]["port"] == 9093
        assert vs["tls"][0]["route"][0]["destination"]["port"] == {"number": 443}  # the gateway's Service port
        assert vs["tcp"][0]["route"][0]["destination"]["port"] == {"number": 9093}


class MergingTests:
    def test_object_count_grows_with_hosts_and_namespaces_not_grants(self):
        grants = [grant(i, f"ns{i % 3}", f"sa{i}", "api.stripe.com") for i in range(1, 31)]
        result = render(grants)
        assert len(kinds(result, "ServiceEntry")) == 1
        assert len(kinds(result, "VirtualService")) == 1
        # 5 per host + (NetworkPolicy, Sidecar, Telemetry) per namespace + the gateway's NetworkPolicy and Telemetry
        assert len(result.objects) == 5 + 3 * 3 + 2
        se = find(result, "ServiceEntry", "api-stripe-com")
        assert se["spec"]["exportTo"] == [".", "ns0", "ns1", "ns2"]
        assert se["metadata"]["annotations"][ANNOTATION_GRANTS] == ",".join(str(i) for i in range(1, 31))
        policy = find(result, "AuthorizationPolicy", "api-stripe-com")["spec"]
        assert len(policy["rules"][0]["from"][0]["source"]["principals"]) == 30

    def test_protocols_of_one_host_share_service_entry_and_virtual_service(self):
        result = render(
            [
                grant(1, "payments", "checkout", "api.example.com", 443, "tls"),
                grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
            ]
        )
        assert [o["metadata"]["name"] for o in kinds(result, "VirtualService")] == ["api-example-com"]
        se = find(result, "ServiceEntry", "api-example-com")["spec"]
        assert se["ports"] == [
            {"number": 80, "name": "http-80", "protocol": "HTTP"},
            {"number": 443, "name": "tls-443", "protocol": "TLS"},
        ]
        servers = find(result, "Gateway", "api-example-com")["spec"]["servers"]
        assert [(s["port"]["number"], s["port"]["protocol"]) for s in servers] == [(443, "TLS"), (80, "HTTPS")]
        assert len({s["port"]["name"] for s in servers}) == 2
        policy = find(result, "AuthorizationPolicy", "api-example-com")["spec"]
        # One rule per gateway pod port: each namespace gets only the protocol it was granted.
        assert [(r["to"][0]["operation"]["ports"], r["from"][0]["source"]["principals"]) for r in policy["rules"]] == [
            (["80"], ["cluster.local/ns/search/sa/indexer"]),
            (["443"], ["cluster.local/ns/payments/sa/checkout"]),
        ]


class HttpOriginateTests:
    def test_gateway_originates_tls_with_a_local_destination_rule(self):
        result = render([grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")])
        rule = find(result, "DestinationRule", "originate-legacy-example-com")["spec"]
        assert rule == {
            "host": "legacy.example.com",
            "exportTo": ["."],
            "trafficPolicy": {
                "portLevelSettings": [
                    {
                        "port": {"number": 443},
                        "tls": {
                            "mode": "SIMPLE",
                            "sni": "legacy.example.com",
                            "subjectAltNames": ["legacy.example.com"],
                            "caCertificates": "/etc/ssl/certs/ca-certificates.crt",
                        },
                    }
                ]
            },
        }
        vs = find(result, "VirtualService", "legacy-example-com")["spec"]
        assert vs["http"] == [
            {
                "match": [{"gateways": ["mesh"], "port": 80}],
                "route": [{"destination": {"host": GW, "subset": "legacy-example-com", "port": {"number": 80}}}],
            },
            {
                "match": [{"gateways": ["istio-egress/legacy-example-com"], "port": 80}],
                "route": [{"destination": {"host": "legacy.example.com", "port": {"number": 443}}}],
            },
        ]
        gateway_rule = find(result, "DestinationRule", "egressgw-legacy-example-com")["spec"]
        assert gateway_rule["subsets"][0]["trafficPolicy"]["portLevelSettings"] == [
            {"port": {"number": 80}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "legacy.example.com"}}
        ]
        server = find(result, "Gateway", "legacy-example-com")["spec"]["servers"][0]
        assert server["port"]["protocol"] == "HTTPS" and server["tls"] == {"mode": "ISTIO_MUTUAL"}

    def test_subset_when_the_same_port_also_passes_tls_through(self):
        result = render(
            [
                grant(1, "payments", "checkout", "api.example.com", 443, "tls"),
                grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
            ]
        )
        rule = find(result, "DestinationRule", "originate-api-example-com")["spec"]
        assert "trafficPolicy" not in rule
        assert rule["subsets"][0]["name"] == "tls-origination"
        assert rule["subsets"][0]["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] == "SIMPLE"
        vs = find(result, "VirtualService", "api-example-com")["spec"]
        assert vs["http"][1]["route"][0]["destination"]["subset"] == "tls-origination"
        assert "subset" not in vs["tcp"][0]["route"][0]["destination"]  # passthrough leg: no second TLS


class HttpTests:
    def test_clear_text_keeps_mutual_tls_to_the_gateway(self):
        result = render([grant(1, "payments", "checkout", "plain.example.com", 8080, "http")])
        assert not [o for o in kinds(result, "DestinationRule") if o["metadata"]["name"].startswith("originate-")]
        vs = find(result, "VirtualService", "plain-example-com")["spec"]
        assert vs["http"][0]["match"] == [{"gateways": ["mesh"], "port": 8080}]
        assert vs["http"][1]["route"] == [{"destination": {"host": "plain.example.com", "port": {"number": 8080}}}]
        se = find(result, "ServiceEntry", "plain-example-com")["spec"]
        assert se["ports"] == [{"number": 8080, "name": "http-8080", "protocol": "HTTP"}]
        subset = find(result, "DestinationRule", "egressgw-plain-example-com")["spec"]["subsets"][0]
        assert subset["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] == "ISTIO_MUTUAL"


class TcpTests:
    def test_cidr_through_the_gateway_uses_a_synthetic_host(self):
        result = render([grant(1, "payments", "refunds", "203.0.113.0/29", 5432, "tcp")])
        host = "203.0.113.0-29.p5432.tcp.egress.internal"
        name = "203-0-113-0--29-p5432-tcp-egress-internal"
        se = find(result, "ServiceEntry", name)["spec"]
        assert se["hosts"] == [host] and se["addresses"] == ["203.0.113.0/29"]
        assert se["resolution"] == "STATIC"
        assert [e["address"] for e in se["endpoints"]] == [f"203.0.113.{i}" for i in range(1, 7)]
        assert se["ports"] == [{"number": 5432, "name": "tcp-5432", "protocol": "TCP"}]
        vs = find(result, "VirtualService", name)["spec"]
        assert vs["tcp"][0]["match"] == [{"gateways": ["mesh"], "port": 5432, "destinationSubnets": ["203.0.113.0/29"]}]
        assert vs["tcp"][1]["route"] == [{"destination": {"host": host, "port": {"number": 5432}}}]
        policy = find(result, "AuthorizationPolicy", name)["spec"]
        assert policy["rules"][0]["when"] == [{"key": "connection.sni", "values": [host]}]

    def test_single_address(self):
        result = render([grant(1, "payments", "refunds", "192.0.2.10", 1521, "tcp")])
        se = find(result, "ServiceEntry", "192-0-2-10--32-p1521-tcp-egress-internal")["spec"]
        assert se["endpoints"] == [{"address": "192.0.2.10"}] and se["addresses"] == ["192.0.2.10/32"]

    def test_range_too_wide_for_a_pool_is_reported(self):
        result = render([grant(7, "payments", "refunds", "10.0.0.0/16", 5432, "tcp")])
        assert not kinds(result, "ServiceEntry")
        [item] = result.unrenderable
        assert item.grant == "7" and item.grant_id == 7 and "65536 addresses" in item.reason

    def test_direct_exception_bypasses_the_gateway(self):
        result = render([grant(1, "payments", "refunds", "198.51.100.7", 6379, "tcp", tcp_direct=True)])
        assert not kinds(result, "VirtualService") and not kinds(result, "Gateway")
        [se] = kinds(result, "ServiceEntry")
        assert se["spec"]["resolution"] == "NONE" and se["spec"]["addresses"] == ["198.51.100.7/32"]
        assert se["spec"]["exportTo"] == ["payments"]
        policy = find(result, "NetworkPolicy", "egressui-egress", "payments")["spec"]
        assert policy["egress"][-2] == {
            "to": [{"ipBlock": {"cidr": "198.51.100.7/32"}}],
            "ports": [{"protocol": "TCP", "port": 6379}],
        }
        gateway_policy = find(result, "NetworkPolicy", "egressui-gateway-ingress")["spec"]
        assert gateway_policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 15021}]}]


class WildcardTests:
    def test_served_by_one_host(self):
        result = render([grant(1, "search", "indexer", "*.wikipedia.org")], wildcard_serving_hosts=WIKIPEDIA)
        mesh_side = find(result, "ServiceEntry", "wildcard---wikipedia-org")["spec"]
        assert mesh_side["hosts"] == ["*.wikipedia.org"] and mesh_side["resolution"] == "NONE"
        target = find(result, "ServiceEntry", "www-wikipedia-org")["spec"]
        assert target["resolution"] == "DNS" and target["exportTo"] == ["."]  # only the gateway needs it
        vs = find(result, "VirtualService", "wildcard---wikipedia-org")["spec"]
        assert vs["tls"][0]["match"][0]["sniHosts"] == ["*.wikipedia.org"]
        assert vs["tcp"][0]["route"] == [{"destination": {"host": "www.wikipedia.org", "port": {"number": 443}}}]
        server = find(result, "Gateway", "wildcard---wikipedia-org")["spec"]["servers"][0]
        assert server["hosts"] == ["istio-egress/*.wikipedia.org"]
        sni = find(result, "DestinationRule", "egressgw-wildcard---wikipedia-org")["spec"]["subsets"][0]
        assert sni["trafficPolicy"]["portLevelSettings"][0]["tls"]["sni"] == "egressui-wildcard.wikipedia.org"
        policy = find(result, "AuthorizationPolicy", "wildcard---wikipedia-org")["spec"]
        assert policy["rules"][0]["when"][0]["values"] == ["egressui-wildcard.wikipedia.org"]
        assert not any(se["spec"].get("resolution") == "DYNAMIC_DNS" for se in kinds(result, "ServiceEntry"))

    def test_serving_host_also_granted_explicitly_shares_one_service_entry(self):
        result = render(
            [grant(1, "search", "indexer", "*.wikipedia.org"), grant(2, "payments", "app", "www.wikipedia.org")],
            wildcard_serving_hosts=WIKIPEDIA,
        )
        [target] = [o for o in kinds(result, "ServiceEntry") if o["spec"]["hosts"] == ["www.wikipedia.org"]]
        assert target["spec"]["exportTo"] == [".", "payments"]
        assert target["metadata"]["annotations"][ANNOTATION_GRANTS] == "1,2"

    def test_expanded_into_the_hosts_it_is_used_for(self):
        result = render(
            [grant(4, "search", "indexer", "*.example.org", expanded_hosts=("a.example.org", "b.example.org"))]
        )
        assert sorted(o["spec"]["hosts"][0] for o in kinds(result, "ServiceEntry")) == [
            "a.example.org",
            "b.example.org",
        ]
        for name in ("a-example-org", "b-example-org"):
            assert find(result, "VirtualService", name)["metadata"]["annotations"][ANNOTATION_GRANTS] == "4"
        sidecar = find(result, "Sidecar", "default", "search")["spec"]["egress"][0]["hosts"]
        assert "istio-egress/a.example.org" in sidecar and "istio-egress/b.example.org" in sidecar

    def test_with_neither_is_reported_not_dropped(self):
        result = render(
            [grant(9, "search", "indexer", "*.example.org"), grant(10, "search", "indexer", "ok.example.com")]
        )
        assert [o["spec"]["hosts"] for o in kinds(result, "ServiceEntry")] == [["ok.example.com"]]
        [item] = result.unrenderable
        assert (item.grant, item.host, item.namespace) == ("9", "*.example.org", "search")
        assert "wildcard" in item.reason and "nothing was rendered" in item.reason


class ConflictTests:
    def test_second_tls_port_for_a_host_is_reported_and_the_older_grant_wins(self):
        result = render([grant(2, "b", "x", "api.example.com", 8443), grant(1, "a", "x", "api.example.com", 443)])
        vs = find(result, "VirtualService", "api-example-com")["spec"]
        assert vs["tls"][0]["match"][0]["port"] == 443
        [item] = result.unrenderable
        assert item.grant == "2" and "grant 1" in item.reason

    def test_port_protocol_clash_is_reported(self):
        result = render(
            [grant(1, "a", "x", "api.example.com", 8080, "tls"), grant(2, "b", "x", "api.example.com", 8080, "http")]
        )
        [item] = result.unrenderable
        assert item.grant == "2" and "already rendered as TLS" in item.reason

    def test_http_routes_need_their_own_gateway_port(self):
        result = render(
            [grant(1, "a", "x", "api.example.com"), grant(2, "a", "x", "plain.example.com", 80, "http")],
            gateway_http_port=443,
        )
        assert [o["metadata"]["name"] for o in kinds(result, "VirtualService")] == ["api-example-com"]
        [item] = result.unrenderable
        assert item.grant == "2" and "both 443" in item.reason

    def test_system_namespaces_are_refused(self):
        for namespace in ("istio-egress", "istio-system", "kube-system"):
            result = render([grant(1, namespace, "x", "api.example.com")])
            assert not kinds(result, "ServiceEntry") and not kinds(result, "Sidecar")
            assert "system namespace" in result.unrenderable[0].reason


class TamperPreventionTests:
    def test_restricted_namespace_reaches_only_dns_istiod_and_gateway_pods(self):
        result = render(
            [grant(1, "payments", "checkout", "api.stripe.com")],
            gateway_pod_https_port=8443,
            gateway_pod_http_port=8080,
            in_cluster_egress="restrict",
            in_cluster_cidrs=("10.96.0.1/32",),  # only with allow
        )
        policy = find(result, "NetworkPolicy", "egressui-egress", "payments")
        assert policy["apiVersion"] == "networking.k8s.io/v1"
        assert policy["spec"] == {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                            "podSelector": {"matchLabels": {"app": "istiod"}},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 15012}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-egress"}},
                            "podSelector": {"matchLabels": {"istio": "egressgateway"}},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8443}],
                },
            ],
        }
        # Service ports stay 443/80 where Istio expects Service ports.
        assert find(result, "Gateway", "api-stripe-com")["spec"]["servers"][0]["port"]["number"] == 443
        sidecar = find(result, "Sidecar", "default", "payments")["spec"]
        assert sidecar["egress"][0]["hosts"] == [
            "./*",
            "istio-system/*",
            f"istio-egress/{GW}",
            "istio-egress/api.stripe.com",
        ]

    def test_in_cluster_traffic_is_left_alone_by_default(self):
        result = render(
            [grant(1, "payments", "checkout", "api.stripe.com")], in_cluster_cidrs=("10.96.0.1/32", "fd00::/64")
        )
        egress = find(result, "NetworkPolicy", "egressui-egress", "payments")["spec"]["egress"]
        assert egress[-2:] == [
            {"to": [{"namespaceSelector": {}}]},  # every pod of the cluster, any port
            {"to": [{"ipBlock": {"cidr": "10.96.0.1/32"}}, {"ipBlock": {"cidr": "fd00::/64"}}]},
        ]
        assert len(egress) == 5  # DNS, istiod and the gateway still listed: they are what restrict keeps

    def test_sidecar_imports_only_what_the_namespace_was_granted_and_the_clusters_services(self):
        result = render(
            [grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "x.example.com")],
            gateway_service_host="egress-gw.gateways.svc.corp.internal",
        )
        sidecar = find(result, "Sidecar", "default", "payments")["spec"]
        assert sidecar == {
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            "egress": [
                {
                    "hosts": [
                        "./*",
                        "istio-system/*",
                        "gateways/egress-gw.gateways.svc.corp.internal",
                        "*/*.svc.corp.internal",  # the cluster domain, read from the gateway Service's name
                        "istio-egress/api.stripe.com",
                    ]
                }
            ],
        }

    def test_sidecars_can_be_left_to_the_teams(self):
        result = render([grant(1, "payments", "checkout", "api.stripe.com")], manage_sidecars=False)
        assert not kinds(result, "Sidecar") and kinds(result, "NetworkPolicy")

    def test_gateway_admits_only_namespaces_with_gateway_routes(self):
        result = render(
            [
                grant(1, "payments", "checkout", "api.stripe.com"),
                grant(2, "search", "indexer", "x.example.com"),
                grant(3, "batch", "job", "198.51.100.7", 22, "tcp", tcp_direct=True),
            ]
        )
        policy = find(result, "NetworkPolicy", "egressui-gateway-ingress")["spec"]
        assert policy["podSelector"] == {"matchLabels": {"istio": "egressgateway"}}
        assert policy["policyTypes"] == ["Ingress"]
        assert policy["ingress"][0]["from"] == [
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["payments", "search"]}
                    ]
                }
            }
        ]
        assert policy["ingress"][1] == {"ports": [{"protocol": "TCP", "port": 15021}]}


class MonitoringTests:
    def test_one_gateway_telemetry_per_cluster_with_the_configured_provider(self):
        result = render(
            [grant(1, "a", "x", "api.stripe.com"), grant(2, "b", "y", "z.example.com")],
            access_log_provider="egress-json",
        )
        telemetry = find(result, "Telemetry", "egressui-gateway-access-log")
        assert telemetry["apiVersion"] == "telemetry.istio.io/v1"
        assert telemetry["spec"] == {
            "selector": {"matchLabels": {"istio": "egressgateway"}},
            "accessLogging": [{"providers": [{"name": "egress-json"}]}],
        }
        assert {o["metadata"]["namespace"] for o in kinds(result, "Telemetry")} == {"istio-egress", "a", "b"}

    def test_each_app_namespace_logs_exactly_its_catch_all(self):
        result = render(
            [grant(1, "payments", "checkout", "api.stripe.com")],
            namespaces=[("payments", "enforce"), ("reports", "observe")],
            source_access_log_provider="mesh-source",
        )

        def logging(namespace):
            return find(result, "Telemetry", "egressui-source-access-log", namespace)["spec"]["accessLogging"]

        assert logging("payments") == [
            {
                "providers": [{"name": "mesh-source"}],
                "match": {"mode": "CLIENT"},
                # TCP/TLS refused by REGISTRY_ONLY, and HTTP answered 502 by the block_all route
                "filter": {"expression": "xds.cluster_name == 'BlackHoleCluster' || xds.route_name == 'block_all'"},
            }
        ]
        assert logging("reports")[0]["filter"] == {"expression": "xds.cluster_name == 'PassthroughCluster'"}

    def test_blank_providers_render_none(self):
        result = render([grant(1, "a", "x", "api.stripe.com")], access_log_provider="", source_access_log_provider="")
        assert not kinds(result, "Telemetry")


class NamespaceStateTests:
    def test_enforced_without_grants_fails_closed(self):
        result = render([], namespaces=[("ledger", "enforce")])
        sidecar = find(result, "Sidecar", "default", "ledger")["spec"]
        assert sidecar["outboundTrafficPolicy"] == {"mode": "REGISTRY_ONLY"}
        assert sidecar["egress"][0]["hosts"] == ["./*", "istio-system/*", f"istio-egress/{GW}", "*/*.svc.cluster.local"]
        policy = find(result, "NetworkPolicy", "egressui-egress", "ledger")
        assert policy["metadata"]["annotations"][ANNOTATION_GRANTS] == ""
        assert not kinds(result, "ServiceEntry")
        # Not routed through the gateway: it is not admitted there.
        gateway_policy = find(result, "NetworkPolicy", "egressui-gateway-ingress")["spec"]
        assert gateway_policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 15021}]}]

    def test_observed_routes_grants_and_passes_the_rest(self):
        result = render([grant(1, "reports", "exporter", "api.stripe.com")], namespaces=[("reports", "observe")])
        assert not [o for o in kinds(result, "NetworkPolicy") if o["metadata"]["namespace"] == "reports"]
        sidecar = find(result, "Sidecar", "default", "reports")["spec"]
        assert sidecar["outboundTrafficPolicy"] == {"mode": "ALLOW_ANY"}
        assert "istio-egress/api.stripe.com" in sidecar["egress"][0]["hosts"]
        # Granted hosts still go through the gateway, with the identity checked there.
        assert find(result, "VirtualService", "api-stripe-com")["spec"]["exportTo"] == [".", "reports"]
        principals = find(result, "AuthorizationPolicy", "api-stripe-com")["spec"]["rules"][0]["from"][0]
        assert principals == {"source": {"principals": ["cluster.local/ns/reports/sa/exporter"]}}
        gateway_policy = find(result, "NetworkPolicy", "egressui-gateway-ingress")["spec"]
        assert gateway_policy["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == [
            "reports"
        ]

    def test_observing_keeps_in_cluster_services_imported_even_when_restricted(self):
        result = render([], namespaces=[("reports", "observe"), ("ledger", "enforce")], in_cluster_egress="restrict")
        assert "*/*.svc.cluster.local" in find(result, "Sidecar", "default", "reports")["spec"]["egress"][0]["hosts"]
        assert "*/*.svc.cluster.local" not in find(result, "Sidecar", "default", "ledger")["spec"]["egress"][0]["hosts"]

    def test_switching_state_changes_only_the_namespaces_own_objects(self):
        grants = [grant(1, "reports", "exporter", "api.stripe.com"), grant(2, "payments", "checkout", "api.stripe.com")]
        observed = render(grants, namespaces=[("reports", "observe"), ("payments", "enforce")])
        enforced = render(grants, namespaces=[("reports", "enforce"), ("payments", "enforce")])
        before = {object_key(o): o for o in observed.objects}
        after = {object_key(o): o for o in enforced.objects}
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert {(kind, namespace) for kind, namespace, _ in changed} == {
            ("NetworkPolicy", "reports"),
            ("Sidecar", "reports"),
            ("Telemetry", "reports"),
        }

    def test_unlisted_namespace_with_grants_is_enforced_and_system_namespaces_are_never_listed(self):
        result = render(
            [grant(1, "payments", "checkout", "api.stripe.com")],
            namespaces=[("istio-egress", "enforce"), ("kube-system", "observe")],
        )
        assert (
            find(result, "Sidecar", "default", "payments")["spec"]["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY"
        )
        assert {o["metadata"]["namespace"] for o in kinds(result, "Sidecar")} == {"payments"}

    def test_sidecars_left_to_the_teams_still_get_lockdown_and_log(self):
        result = render([], namespaces=[("ledger", "enforce"), ("reports", "observe")], manage_sidecars=False)
        assert not kinds(result, "Sidecar")
        assert find(result, "NetworkPolicy", "egressui-egress", "ledger")
        assert find(result, "Telemetry", "egressui-source-access-log", "reports")


class OriginationVerificationTests:
    def _tls(self, **overrides):
        result = render([grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")], **overrides)
        rule = find(result, "DestinationRule", "originate-legacy-example-com")["spec"]
        return rule["trafficPolicy"]["portLevelSettings"][0]["tls"]

    def test_ca_bundle_path_from_the_cluster(self):
        assert self._tls(origination_ca_certificates="/etc/pki/corp.pem")["caCertificates"] == "/etc/pki/corp.pem"

    def test_credential_name_wins(self):
        tls = self._tls(origination_credential_name="egress-ca")
        assert tls["credentialName"] == "egress-ca" and "caCertificates" not in tls

    def test_subset_rules_verify_too(self):
        result = render(
            [
                grant(1, "payments", "checkout", "api.example.com", 443, "tls"),
                grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
            ]
        )
        rule = find(result, "DestinationRule", "originate-api-example-com")["spec"]
        tls = rule["subsets"][0]["trafficPolicy"]["portLevelSettings"][0]["tls"]
        assert tls["caCertificates"] == "/etc/ssl/certs/ca-certificates.crt"


class MetadataTests:
    def test_every_object_is_labelled_annotated_and_hashed(self):
        result = render([grant(1, "a", "x", "api.stripe.com"), grant(2, "b", "y", "10.0.0.1", 22, "tcp")])
        allowed = {info.key: info.api_version for info in KINDS}
        for obj in result.objects:
            meta = obj["metadata"]
            assert allowed[kind_key(obj)] == obj["apiVersion"]
            assert meta["labels"] == {LABEL_MANAGED_BY: "egressui", LABEL_CLUSTER: "prod-eu"}
            assert set(meta["annotations"]) == {ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS}
            assert meta["annotations"][ANNOTATION_CONTENT_HASH] == content_hash(obj)
            assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}

    def test_hash_follows_labels_and_spec_but_not_itself(self):
        obj = render([grant(1, "a", "x", "api.stripe.com")]).objects[0]
        digest = content_hash(obj)
        obj["metadata"]["annotations"][ANNOTATION_CONTENT_HASH] = "something else"
        assert content_hash(obj) == digest
        obj["spec"]["exportTo"].append("c")
        assert content_hash(obj) != digest
        obj["spec"]["exportTo"].pop()
        obj["metadata"]["labels"][LABEL_CLUSTER] = "other"
        assert content_hash(obj) != digest

    def test_output_is_sorted_in_apply_order(self):
        result = render(
            [grant(1, "a", "x", "api.stripe.com"), grant(2, "b", "y", "legacy.example.com", 443, "http-originate")]
        )
        order = [info.key for info in KINDS]
        keys = [(order.index(kind_key(o)), o["metadata"]["namespace"], o["metadata"]["name"]) for o in result.objects]
        assert keys == sorted(keys)

    def test_long_hosts_get_bounded_names(self):
        host = "a-very-long-subdomain-name-that-goes-on.and-on.example-company.com"
        result = render([grant(1, "a", "x", host)])
        for obj in result.objects:
            assert len(obj["metadata"]["name"]) <= 63
        [gateway] = kinds(result, "Gateway")
        assert len(gateway["metadata"]["name"]) == 63 and "." not in gateway["metadata"]["name"]


class GrantSelectionTests:
    def test_only_grants_in_force_are_rendered(self):
        grants = [
            grant(1, "a", "x", "active.example.com"),
            grant(2, "a", "x", "revoked.example.com", status="revoked"),
            grant(3, "a", "x", "expired.example.com", status="expired"),
            grant(4, "a", "x", "ended.example.com", expires_at=NOW),
            grant(5, "a", "x", "future.example.com", valid_from=NOW + timedelta(seconds=1)),
        ]
        result = render(grants)
        assert [o["spec"]["hosts"] for o in kinds(result, "ServiceEntry")] == [["active.example.com"]]
        served = {g for o in result.objects for g in o["metadata"]["annotations"][ANNOTATION_GRANTS].split(",") if g}
        assert served == {"1"}

    def test_input_order_does_not_matter(self):
        grants = [grant(i, f"ns{i % 4}", f"sa{i}", f"h{i % 5}.example.com") for i in range(1, 40)]
        first = dump_yaml(render(grants).objects)
        shuffled = list(grants)
        random.Random(3).shuffle(shuffled)
        assert dump_yaml(render(shuffled).objects) == first


def test_objects_share_no_mutable_parts():
    """Callers (the reconciler, previews) may edit what they get; no dict or list is shared."""
    from tests.policies.manifests.cases import BROAD_CLUSTER, broad_grants

    seen: set[int] = set()

    def walk(node):
        if isinstance(node, dict | list):
            assert id(node) not in seen
            seen.add(id(node))
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    for obj in render(broad_grants(), **BROAD_CLUSTER).objects:
        walk(obj)
