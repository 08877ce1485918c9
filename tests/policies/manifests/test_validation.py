"""Rendered objects pass what the API server and istiod's webhook check, and the checker itself
catches the mistakes a generator can make (so a green run means something)."""

import copy

import pytest

from policies.manifests import RenderInput, render_cluster
from tests.policies.manifests.cases import BROAD_CLUSTER, CASES, NOW, broad_grants, cluster, find, grant, render


class RenderedObjectsValidateTests:
    def test_broad_fixture_set(self, validator):
        result = render(broad_grants(), **BROAD_CLUSTER)
        kinds = {obj["kind"] for obj in result.objects}
        assert kinds == {
            "ServiceEntry",
            "DestinationRule",
            "Gateway",
            "AuthorizationPolicy",
            "VirtualService",
            "Sidecar",
            "NetworkPolicy",
            "Telemetry",
        }
        assert len(result.unrenderable) == 2  # the wildcard with neither form, the second TLS port
        validator.assert_valid(result.objects)

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_each_golden_case(self, validator, case):
        grants, overrides = CASES[case]
        validator.assert_valid(render(grants, **overrides).objects)

    def test_legacy_chart_and_custom_selectors(self, validator):
        result = render_cluster(
            RenderInput(
                cluster=cluster(
                    egress_namespace="istio-system",
                    gateway_service_host="istio-egressgateway.istio-system.svc.cluster.local",
                    gateway_pod_https_port=8443,
                    gateway_pod_http_port=8080,
                    gateway_selector=(("app", "istio-egressgateway"), ("istio", "egressgateway")),
                    dns_namespace="kube-system",
                    dns_selector=(("k8s-app", "coredns"),),
                    wildcard_serving_hosts=BROAD_CLUSTER["wildcard_serving_hosts"],
                ),
                grants=tuple(broad_grants(4)),
                now=NOW,
            )
        )
        validator.assert_valid(result.objects)


@pytest.fixture
def sample():
    result = render(
        [
            grant(1, "payments", "checkout", "api.stripe.com"),
            grant(2, "payments", "checkout", "legacy.example.com", 443, "http-originate"),
        ]
    )
    return {
        "se": find(result, "ServiceEntry", "api-stripe-com"),
        "gw": find(result, "Gateway", "api-stripe-com"),
        "vs": find(result, "VirtualService", "api-stripe-com"),
        "dr": find(result, "DestinationRule", "egressgw-api-stripe-com"),
        "ap": find(result, "AuthorizationPolicy", "api-stripe-com"),
        "sidecar": find(result, "Sidecar", "default", "payments"),
        "np": find(result, "NetworkPolicy", "egressui-egress", "payments"),
        "telemetry": find(result, "Telemetry", "egressui-gateway-access-log"),
    }


def _errors(validator, obj, change):
    broken = copy.deepcopy(obj)
    change(broken)
    return "\n".join(validator.errors(broken))


class ValidatorCatchesMistakesTests:
    def test_sample_is_valid(self, validator, sample):
        validator.assert_valid(sample.values())

    def test_port_given_as_a_string(self, validator, sample):
        errors = _errors(validator, sample["se"], lambda o: o["spec"]["ports"][0].update(number="443"))
        assert "'443' is not of type 'integer'" in errors

    def test_unknown_field(self, validator, sample):
        errors = _errors(validator, sample["se"], lambda o: o["spec"].update(resolutoin="DNS"))
        assert "'resolutoin' was unexpected" in errors
        nested = _errors(validator, sample["vs"], lambda o: o["spec"]["tls"][0]["match"][0].update(sni="x"))
        assert "'sni' was unexpected" in nested

    def test_bad_enum(self, validator, sample):
        assert "is not one of" in _errors(validator, sample["se"], lambda o: o["spec"].update(resolution="DNSS"))
        assert "is not one of" in _errors(validator, sample["ap"], lambda o: o["spec"].update(action="ALLOWW"))
        errors = _errors(validator, sample["gw"], lambda o: o["spec"]["servers"][0]["tls"].update(mode="PASSTHRU"))
        assert "is not one of" in errors

    def test_duplicate_port(self, validator, sample):
        def duplicate(obj):
            obj["spec"]["ports"].append({"number": 443, "name": "https-443", "protocol": "HTTPS"})

        assert "port number cannot be duplicated" in _errors(validator, sample["se"], duplicate)

    def test_dotted_gateway_name(self, validator, sample):
        errors = _errors(validator, sample["gw"], lambda o: o["metadata"].update(name="api.stripe.com"))
        assert "Gateway name must be a DNS-1123 label" in errors

    def test_cel_rules(self, validator, sample):
        cidr_with_dns = _errors(validator, sample["se"], lambda o: o["spec"].update(addresses=["10.0.0.0/24"]))
        assert "CIDR addresses are allowed only for NONE/STATIC" in cidr_with_dns
        assert "hostname cannot be wildcard" in _errors(
            validator, sample["se"], lambda o: o["spec"].update(hosts=["*"])
        )
        both = _errors(
            validator, sample["ap"], lambda o: o["spec"].update(targetRefs=[{"kind": "Service", "name": "x"}])
        )
        assert "only one of targetRefs or selector" in both
        out_of_range = _errors(validator, sample["se"], lambda o: o["spec"]["ports"][0].update(number=70000))
        assert "port must be between 1-65535" in out_of_range

    def test_webhook_rules(self, validator, sample):
        def second_server_same_name(obj):
            obj["spec"]["servers"].append(copy.deepcopy(obj["spec"]["servers"][0]))

        assert "port names in servers must be unique" in _errors(validator, sample["gw"], second_server_same_name)
        no_tls = _errors(validator, sample["gw"], lambda o: o["spec"]["servers"][0].pop("tls"))
        assert "needs tls settings" in no_tls
        dotted_subset = _errors(validator, sample["dr"], lambda o: o["spec"]["subsets"][0].update(name="api.stripe"))
        assert "is not a DNS-1123 label" in dotted_subset
        duplicate_export = _errors(validator, sample["se"], lambda o: o["spec"]["exportTo"].append("istio-egress"))
        assert "duplicate entry" in duplicate_export
        public_and_more = _errors(validator, sample["vs"], lambda o: o["spec"].update(exportTo=["*", "payments"]))
        assert "both public" in public_and_more
        foreign_sni = _errors(
            validator, sample["vs"], lambda o: o["spec"]["tls"][0]["match"][0].update(sniHosts=["x.io"])
        )
        assert "not a compatible subset" in foreign_sni

        def wildcard_with_dns(obj):
            obj["spec"]["hosts"] = ["*.stripe.com"]

        assert "wildcard hosts need endpoints" in _errors(validator, sample["se"], wildcard_with_dns)
        bad_key = _errors(validator, sample["ap"], lambda o: o["spec"]["rules"][0]["when"][0].update(key="conn.sni"))
        assert "unknown attribute" in bad_key
        bare_host = _errors(validator, sample["sidecar"], lambda o: o["spec"]["egress"][0]["hosts"].append("x.io"))
        assert "must be namespace/dnsName" in bare_host

    def test_network_policy_strictly(self, validator, sample):
        assert "'egres' was unexpected" in _errors(validator, sample["np"], lambda o: o["spec"].update(egres=[]))
        as_list = _errors(validator, sample["np"], lambda o: o["spec"]["egress"][0]["ports"][0].update(port=[53]))
        assert as_list
        icmp = _errors(validator, sample["np"], lambda o: o["spec"]["egress"][0]["ports"][0].update(protocol="ICMP"))
        assert "is not TCP, UDP or SCTP" in icmp
        outbound = _errors(validator, sample["np"], lambda o: o["spec"].update(policyTypes=["Outbound"]))
        assert "is not Ingress or Egress" in outbound

    def test_metadata(self, validator, sample):
        assert "not a DNS-1123 subdomain" in _errors(
            validator, sample["se"], lambda o: o["metadata"].update(name="Bad_Name")
        )
        long_label = _errors(validator, sample["telemetry"], lambda o: o["metadata"]["labels"].update(x="y" * 64))
        assert "invalid value" in long_label
        assert "unknown top-level fields" in _errors(validator, sample["se"], lambda o: o.update(status={}))
