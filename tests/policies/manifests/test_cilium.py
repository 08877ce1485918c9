"""Enforcement mode `cilium`: golden files, behaviour per protocol and namespace state, and every
object validated against Cilium's CRD (schema with its oneOf/anyOf rules, closed as Strict)."""

import pytest

from policies.manifests import dump_yaml
from policies.manifests.cilium import ORIGINATE_REASON, POLICY_NAME, SERVICE_ACCOUNT_LABEL
from tests.policies.manifests.cases import CILIUM_CASES, NOW, grant, render
from tests.support.manifest_validation import CILIUM_CRDS_MISSING, cilium_crds_path

needs_crds = pytest.mark.skipif(cilium_crds_path() is None, reason=CILIUM_CRDS_MISSING)


def cilium(grants, **overrides):
    return render(grants, mode="cilium", **overrides)


@needs_crds
@pytest.mark.parametrize("case", sorted(CILIUM_CASES))
def test_every_case_validates_against_the_cilium_crd(case, validator):
    grants, overrides = CILIUM_CASES[case]
    validator.assert_valid(cilium(grants, **overrides).objects)


def _policy(result, namespace: str) -> dict:
    [obj] = [o for o in result.objects if o["metadata"]["namespace"] == namespace]
    assert (obj["kind"], obj["metadata"]["name"]) == ("CiliumNetworkPolicy", POLICY_NAME)
    return obj


def _rule(obj: dict, account: str) -> dict:
    [rule] = [r for r in obj["specs"] if r["endpointSelector"].get("matchLabels") == {SERVICE_ACCOUNT_LABEL: account}]
    return rule


class CiliumRenderTests:
    def test_only_cilium_network_policies_one_per_app_namespace(self):
        result = cilium(
            [grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "x.example.com")],
            namespaces=[("ledger", "enforce"), ("reports", "observe")],
        )
        assert {(o["kind"], o["metadata"]["namespace"]) for o in result.objects} == {
            ("CiliumNetworkPolicy", name) for name in ("ledger", "payments", "reports", "search")
        }

    def test_enforced_namespace_is_locked_down_with_or_without_grants(self):
        result = cilium([grant(1, "payments", "checkout", "api.stripe.com")], namespaces=[("ledger", "enforce")])
        for namespace in ("ledger", "payments"):
            rules = _policy(result, namespace)["specs"]
            assert all(rule["enableDefaultDeny"] == {"egress": True} for rule in rules)
            namespace_rule = rules[0]
            assert namespace_rule["endpointSelector"] == {}
            dns = namespace_rule["egress"][0]
            assert dns["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
            assert dns["toEndpoints"][0]["matchLabels"] == {
                "k8s:io.kubernetes.pod.namespace": "kube-system",
                "k8s:k8s-app": "kube-dns",
            }
            assert {"toEntities": ["cluster"]} in namespace_rule["egress"]
        assert len(_policy(result, "ledger")["specs"]) == 1  # no grants: DNS and in-cluster only

    def test_observed_namespace_denies_nothing_but_keeps_dns_visibility(self):
        result = cilium([grant(1, "reports", "exporter", "api.stripe.com")], namespaces=[("reports", "observe")])
        rules = _policy(result, "reports")["specs"]
        assert all(rule["enableDefaultDeny"] == {"egress": False} for rule in rules)
        assert "dns" in rules[0]["egress"][0]["toPorts"][0]["rules"]
        assert not any("toEntities" in entry for entry in rules[0]["egress"])

    def test_restrict_keeps_only_dns(self):
        result = cilium([grant(1, "payments", "checkout", "api.stripe.com")], in_cluster_egress="restrict")
        assert [list(entry) for entry in _policy(result, "payments")["specs"][0]["egress"]] == [
            ["toEndpoints", "toPorts"]
        ]

    def test_one_entry_per_port_whatever_the_number_of_grants(self):
        grants = [grant(i, "payments", "checkout", f"h{i}.example.com") for i in range(1, 51)]
        grants.append(grant(51, "payments", "checkout", "h1.example.com", 8443))
        rule = _rule(_policy(cilium(grants), "payments"), "checkout")
        assert [entry["toPorts"][0]["ports"] for entry in rule["egress"]] == [
            [{"port": "443", "protocol": "TCP"}],
            [{"port": "8443", "protocol": "TCP"}],
        ]
        assert len(rule["egress"][0]["toFQDNs"]) == 50

    def test_tcp_is_a_cidr_set_with_its_port_and_no_pool_limit(self):
        result = cilium([grant(1, "payments", "refunds", "10.20.0.0/16", 6379, "tcp")])
        [entry] = _rule(_policy(result, "payments"), "refunds")["egress"]
        assert entry == {
            "toCIDRSet": [{"cidr": "10.20.0.0/16"}],
            "toPorts": [{"ports": [{"port": "6379", "protocol": "TCP"}]}],
        }

    def test_http_originate_is_unrenderable_with_the_reason_and_the_rest_renders(self):
        result = cilium(
            [
                grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate"),
                grant(2, "payments", "checkout", "api.stripe.com"),
            ]
        )
        [item] = result.unrenderable
        assert (item.grant_id, item.host, item.reason) == (1, "legacy.example.com", ORIGINATE_REASON)
        obj = _policy(result, "payments")
        assert obj["metadata"]["annotations"]["egressui.io/grants"] == "2"
        assert "legacy.example.com" not in dump_yaml([obj])

    def test_wildcard_pattern_follows_the_cilium_version(self):
        wildcard = grant(1, "payments", "checkout", "*.github.com", expanded_hosts=("api.github.com", "a.b.github.com"))
        for version, expected in [
            ("1.19", [{"matchPattern": "**.github.com"}]),
            ("1.20.2", [{"matchPattern": "**.github.com"}]),
            ("1.18", [{"matchName": "a.b.github.com"}, {"matchPattern": "*.github.com"}]),
        ]:
            rule = _rule(_policy(cilium([wildcard], cilium_version=version), "payments"), "checkout")
            assert rule["egress"][0]["toFQDNs"] == expected, version

    def test_system_namespaces_and_invalid_hosts_are_refused(self):
        result = cilium(
            [grant(1, "kube-system", "coredns", "api.stripe.com"), grant(2, "payments", "checkout", "not a host")]
        )
        assert [(item.grant_id, "system namespace" in item.reason) for item in result.unrenderable] == [
            (1, True),
            (2, False),
        ]
        assert [o["metadata"]["namespace"] for o in result.objects] == ["payments"]

    def test_grants_not_in_force_render_nothing(self):
        ended = grant(1, "payments", "checkout", "api.stripe.com", expires_at=NOW)
        revoked = grant(2, "payments", "checkout", "b.example.com", status="revoked")
        assert dump_yaml(cilium([ended, revoked]).objects) == dump_yaml(cilium([]).objects) == ""

    def test_objects_are_labelled_and_annotated_like_every_managed_object(self):
        from policies.manifests import content_hash

        [obj] = cilium([grant(7, "payments", "checkout", "api.stripe.com")]).objects
        assert obj["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "egressui",
            "egressui.io/cluster": "prod-eu",
        }
        assert obj["metadata"]["annotations"]["egressui.io/grants"] == "7"
        assert obj["metadata"]["annotations"]["egressui.io/content-hash"] == content_hash(obj)
        assert "spec" not in obj and obj["apiVersion"] == "cilium.io/v2"
