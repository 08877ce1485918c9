"""The YAML that docs/rendering.md and docs/rollout.md show for the namespace states and mode cilium is
what the renderer produces (labels and annotations aside), so the documentation cannot drift from the code."""

import re
from pathlib import Path

import yaml

from tests.policies.manifests.cases import IN_CLUSTER_CIDRS, find, grant, render

DOCS = Path(__file__).resolve().parents[3] / "docs"
_YAML = re.compile(r"```yaml\n(.*?)```", re.S)


def documented(path: str, heading: str) -> list[dict]:
    """The YAML documents of the first yaml block after `heading`."""
    text = (DOCS / path).read_text()
    section = text[text.index(heading) :]
    return [doc for doc in yaml.safe_load_all(_YAML.search(section).group(1)) if doc]


def bare(obj: dict) -> dict:
    meta = obj["metadata"]
    return {**obj, "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}


def test_in_cluster_allow_network_policy_is_the_rendered_one():
    result = render(
        [grant(1, "payments", "checkout", "api.stripe.com")],
        namespaces=[("payments", "enforce")],
        in_cluster_cidrs=IN_CLUSTER_CIDRS,
    )
    [policy] = documented("rendering.md", "## In-cluster egress")
    assert policy == bare(find(result, "NetworkPolicy", "egressui-egress", "payments"))


def test_enforced_namespace_objects_are_the_rendered_ones():
    result = render(
        [grant(1, "payments", "checkout", "api.stripe.com")],
        namespaces=[("payments", "enforce")],
        in_cluster_cidrs=IN_CLUSTER_CIDRS,
    )
    sidecar, telemetry = documented("rendering.md", "An enforced namespace with grants")
    assert sidecar == bare(find(result, "Sidecar", "default", "payments"))
    assert telemetry == bare(find(result, "Telemetry", "egressui-source-access-log", "payments"))


def test_rollout_guide_shows_what_each_state_renders():
    observed = render([], namespaces=[("reports", "observe")])
    sidecar, telemetry = documented("rollout.md", "## 2. Onboard the namespaces")
    assert sidecar == bare(find(observed, "Sidecar", "default", "reports"))
    assert telemetry == bare(find(observed, "Telemetry", "egressui-source-access-log", "reports"))
    enforced = render([], namespaces=[("reports", "enforce")], in_cluster_cidrs=IN_CLUSTER_CIDRS)
    sidecar, telemetry, policy = documented("rollout.md", "## 5. Enforce")
    assert sidecar == bare(find(enforced, "Sidecar", "default", "reports"))
    assert telemetry == bare(find(enforced, "Telemetry", "egressui-source-access-log", "reports"))
    rendered = bare(find(enforced, "NetworkPolicy", "egressui-egress", "reports"))
    assert policy["spec"]["egress"] == rendered["spec"]["egress"] and policy == rendered


def test_ambient_enforced_network_policy_is_the_rendered_one():
    from tests.policies.manifests.cases import render_ambient

    result = render_ambient([], namespaces=[("ledger", "enforce")], in_cluster_cidrs=IN_CLUSTER_CIDRS)
    [policy] = documented("rendering.md", "An enforced namespace's policy (the example of")
    assert policy == bare(find(result, "NetworkPolicy", "egressui-egress", "ledger"))


def test_cilium_policy_is_the_rendered_one():
    result = render(
        [
            grant(1, "payments", "checkout", "api.stripe.com"),
            grant(2, "payments", "checkout", "*.github.com"),
            grant(3, "payments", "refunds", "203.0.113.0/29", 5432, "tcp"),
        ],
        namespaces=[("payments", "enforce")],
        in_cluster_cidrs=IN_CLUSTER_CIDRS,
        mode="cilium",
    )
    [policy] = documented("rendering.md", "## Mode `cilium`")
    assert policy == bare(find(result, "CiliumNetworkPolicy", "egressui-egress", "payments"))
