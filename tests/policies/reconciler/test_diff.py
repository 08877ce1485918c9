"""The pure diff: what differs, in which order, and what counts as drift."""

import copy

from policies.manifests import content_hash
from policies.reconciler.diff import CREATE, DELETE, UNCHANGED, UPDATE, first_difference, phases, plan
from policies.reconciler.resources import ObjectKey, key_of


def obj(kind, name, spec, *, namespace="istio-egress", grants="1"):
    body = {
        "apiVersion": "networking.istio.io/v1" if kind != "NetworkPolicy" else "networking.k8s.io/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "egressui", "egressui.io/cluster": "c1"},
            "annotations": {"egressui.io/grants": grants},
        },
        "spec": spec,
    }
    body["metadata"]["annotations"]["egressui.io/content-hash"] = content_hash(body)
    return body


def keyed(*objects):
    return {key_of(o): o for o in objects}


def as_live(desired: dict, **extra_meta) -> dict:
    """What the API server returns for an applied object: ours plus server fields."""
    live = copy.deepcopy(desired)
    live["metadata"].update({"resourceVersion": "7", "uid": "u", "generation": 1, **extra_meta})
    return live


class DiffTests:
    def test_first_run_creates_everything_in_apply_order(self):
        desired = keyed(
            obj("VirtualService", "a", {"hosts": ["a.com"]}),
            obj("ServiceEntry", "a", {"hosts": ["a.com"]}),
            obj("NetworkPolicy", "egressui-egress", {"podSelector": {}}, namespace="payments"),
            obj("Gateway", "a", {"servers": []}),
        )
        changes = plan(desired, {}, {})
        assert [c.action for c in changes] == [CREATE] * 4
        assert [c.key.kind for c in changes] == ["ServiceEntry", "Gateway", "VirtualService", "NetworkPolicy"]
        assert not any(c.drift for c in changes)

    def test_same_hash_and_fields_is_unchanged_despite_server_fields(self):
        desired = keyed(obj("ServiceEntry", "a", {"hosts": ["a.com"], "ports": [{"number": 443}]}))
        live = {key: as_live(o, managedFields=[{"manager": "egressui"}]) for key, o in desired.items()}
        live_obj = next(iter(live.values()))
        live_obj["metadata"]["labels"]["team"] = "added-by-someone"  # other managers' labels are not ours
        live_obj["spec"]["ports"][0]["targetPort"] = 443  # a field another manager (or a default) set
        live_obj["status"] = {"conditions": []}
        assert [c.action for c in plan(desired, live, {})] == [UNCHANGED]

    def test_hash_change_is_an_ordinary_update(self):
        old = obj("ServiceEntry", "a", {"hosts": ["a.com"]}, grants="1")
        new = obj("ServiceEntry", "a", {"hosts": ["a.com"]}, grants="1,2")
        key = key_of(new)
        changes = plan(
            {key: new}, {key: as_live(old)}, {key: old["metadata"]["annotations"]["egressui.io/content-hash"]}
        )
        assert [(c.action, c.drift) for c in changes] == [(UPDATE, "")]

    def test_edited_field_with_our_hash_is_drift(self):
        desired = obj("AuthorizationPolicy", "a", {"action": "ALLOW", "rules": [{"from": [{"principals": ["p"]}]}]})
        live = as_live(desired)
        live["spec"]["rules"][0]["from"][0]["principals"].append("cluster.local/ns/x/sa/intruder")
        key = key_of(desired)
        [change] = plan({key: desired}, {key: live}, {key: "whatever"})
        assert change.action == UPDATE
        assert "edited behind our back" in change.drift and "spec.rules[0].from[0].principals" in change.drift

    def test_removed_label_of_ours_is_drift(self):
        desired = obj("ServiceEntry", "a", {"hosts": ["a.com"]})
        live = as_live(desired)
        del live["metadata"]["annotations"]["egressui.io/grants"]
        key = key_of(desired)
        [change] = plan({key: desired}, {key: live}, {})
        assert change.action == UPDATE and "metadata.annotations" in change.drift

    def test_hash_annotation_changed_behind_our_back_is_drift(self):
        desired = obj("ServiceEntry", "a", {"hosts": ["a.com"]})
        live = as_live(desired)
        live["metadata"]["annotations"]["egressui.io/content-hash"] = "tampered"
        key = key_of(desired)
        inventory = {key: desired["metadata"]["annotations"]["egressui.io/content-hash"]}
        [change] = plan({key: desired}, {key: live}, inventory)
        assert change.action == UPDATE and "content-hash" in change.drift

    def test_missing_object_we_had_applied_is_drift_but_a_new_one_is_not(self):
        known = obj("ServiceEntry", "known", {"hosts": ["k.com"]})
        new = obj("ServiceEntry", "new", {"hosts": ["n.com"]})
        inventory = {key_of(known): "h"}
        changes = {c.key.name: c for c in plan(keyed(known, new), {}, inventory)}
        assert changes["known"].action == CREATE and changes["known"].drift == "deleted behind our back"
        assert changes["new"].action == CREATE and changes["new"].drift == ""

    def test_deletes_come_last_in_reverse_kind_order(self):
        live = keyed(
            as_live(obj("ServiceEntry", "old", {"hosts": ["o.com"]})),
            as_live(obj("VirtualService", "old", {"hosts": ["o.com"]})),
            as_live(obj("Sidecar", "default", {}, namespace="payments")),
        )
        desired = keyed(obj("ServiceEntry", "new", {"hosts": ["n.com"]}))
        changes = plan(desired, live, {})
        assert [(c.action, c.key.kind) for c in changes] == [
            (CREATE, "ServiceEntry"),
            (DELETE, "Sidecar"),
            (DELETE, "VirtualService"),
            (DELETE, "ServiceEntry"),
        ]
        assert [[c.key.kind for c in batch] for batch in phases(changes)] == [
            ["ServiceEntry"],
            ["Sidecar"],
            ["VirtualService"],
            ["ServiceEntry"],
        ]

    def test_empty_values_we_set_may_be_dropped_by_the_server(self):
        desired = obj("NetworkPolicy", "p", {"podSelector": {}, "ingress": []}, namespace="payments")
        live = as_live(desired)
        del live["spec"]["ingress"]
        key = key_of(desired)
        assert [c.action for c in plan({key: desired}, {key: live}, {})] == [UNCHANGED]

    def test_first_difference_paths(self):
        assert first_difference({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 3}]}}) == "a.b[1].c"
        assert first_difference({"a": [1, 2]}, {"a": [1]}) == "a"
        assert first_difference({"a": "443"}, {"a": 443}) == "a"
        assert first_difference({"a": 1}, {"a": 1, "b": 2}) is None
        assert ObjectKey("Gateway", "ns", "n") == key_of(
            {"kind": "Gateway", "metadata": {"name": "n", "namespace": "ns"}}
        )
