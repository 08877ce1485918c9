from policies.constants import ANNOTATION_CONTENT_HASH
from policies.manifests import KINDS, content_hash, dump_object_yaml, dump_yaml, load_yaml, object_path
from policies.manifests.diff import diff_objects
from tests.policies.manifests.cases import grant, render


def _objects():
    return render(
        [grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "x.example.com")]
    ).objects


class KindsTests:
    def test_apply_order_and_resources(self):
        assert [(k.kind, k.api_version, k.plural) for k in KINDS] == [
            ("Gateway", "gateway.networking.k8s.io/v1", "gateways"),  # the ambient waypoint
            ("ServiceEntry", "networking.istio.io/v1", "serviceentries"),
            ("DestinationRule", "networking.istio.io/v1", "destinationrules"),
            ("Gateway", "networking.istio.io/v1", "gateways"),
            ("AuthorizationPolicy", "security.istio.io/v1", "authorizationpolicies"),
            ("VirtualService", "networking.istio.io/v1", "virtualservices"),
            ("Sidecar", "networking.istio.io/v1", "sidecars"),
            ("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
            ("Telemetry", "telemetry.istio.io/v1", "telemetries"),
            ("CiliumNetworkPolicy", "cilium.io/v2", "ciliumnetworkpolicies"),
        ]

    def test_kind_keys_tell_the_two_gateways_apart(self):
        from policies.manifests.kinds import KIND_BY_NAME, kind_key

        assert len(KIND_BY_NAME) == len(KINDS)
        waypoint = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway"}
        assert kind_key(waypoint) == "Gateway.gateway.networking.k8s.io"
        assert kind_key({"apiVersion": "networking.istio.io/v1", "kind": "Gateway"}) == "Gateway"
        assert KIND_BY_NAME[kind_key(waypoint)].group == "gateway.networking.k8s.io"

    def test_each_mode_lists_only_its_own_kinds(self):
        from policies.manifests.kinds import kinds_for_mode

        assert [k.kind for k in kinds_for_mode("cilium")] == ["CiliumNetworkPolicy"]
        assert "CiliumNetworkPolicy" not in {k.kind for k in kinds_for_mode("istio")}
        assert set(kinds_for_mode("istio")) | set(kinds_for_mode("cilium")) <= set(KINDS)


class YamlTests:
    def test_round_trip_and_key_order_independence(self):
        objects = _objects()
        text = dump_yaml(objects)
        assert text.startswith("---\n") and text.count("\n---\n") == len(objects) - 1
        assert load_yaml(text) == objects
        reordered = [dict(reversed(list(obj.items()))) for obj in objects]
        assert dump_yaml(reordered) == text
        assert content_hash(reordered[0]) == objects[0]["metadata"]["annotations"][ANNOTATION_CONTENT_HASH]

    def test_object_path(self):
        objects = {object_path(o) for o in _objects()}
        assert "istio-egress/virtualservice-api-stripe-com.yaml" in objects
        assert "payments/networkpolicy-egressui-egress.yaml" in objects
        assert load_yaml(dump_object_yaml(_objects()[0])) == [_objects()[0]]


class DiffTests:
    def test_added_changed_removed_unchanged(self):
        before = render(
            [grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "old.example.com")]
        ).objects
        after = render(
            [grant(1, "payments", "checkout", "api.stripe.com"), grant(3, "payments", "refunds", "api.stripe.com")]
        ).objects
        diff = diff_objects(before, after)
        changed = {(c.kind, c.name) for c in diff.changed}
        assert ("AuthorizationPolicy", "api-stripe-com") in changed
        assert {c.name for c in diff.removed if c.kind == "VirtualService"} == {"old-example-com"}
        assert {c.namespace for c in diff.removed if c.kind == "Sidecar"} == {"search"}
        # Only the Telemetries serve no grant: the gateway's and the payments namespace's.
        assert not diff.added and diff.unchanged == 2
        [policy] = [c for c in diff.changed if c.kind == "AuthorizationPolicy"]
        added = [line for line in policy.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
        assert any(line.endswith("- cluster.local/ns/payments/sa/refunds") for line in added)
        assert diff_objects(after, after).has_changes is False and diff_objects(after, after).unchanged == len(after)
