"""Kubernetes NetworkPolicies that keep pods from bypassing the egress gateway (reference §6.2).

Istio cannot force traffic through the gateway by itself: a pod can drop its sidecar's redirection.
Each enforced app namespace (with or without grants) may therefore reach only DNS, istiod and the
gateway pods (plus the exact CIDR and port of any direct TCP exception) and — with the cluster's
`in_cluster_egress: allow`, the default — every pod of the cluster and the configured in-cluster
CIDRs, so the lockdown is about external traffic only. Observed namespaces get no egress policy.
The gateway admits only namespaces routed through it. NetworkPolicies add up, so with `restrict` a
team allows its in-cluster dependencies with a policy of its own.
"""

from policies.manifests.draft import Draft, grant_labels, labels_dict
from policies.manifests.inputs import ClusterSettings
from policies.manifests.kinds import NETWORK_POLICY
from policies.manifests.plan import NamespacePlan, Plan

APP_POLICY_NAME = "egressui-egress"
GATEWAY_POLICY_NAME = "egressui-gateway-ingress"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace
ISTIOD_XDS_PORT = 15012
GATEWAY_STATUS_PORT = 15021  # readiness probes of the gateway pods


def namespace_selector(name: str) -> dict:
    return {"matchLabels": {NAMESPACE_NAME_LABEL: name}}


def tcp_port(port: int) -> dict:
    return {"protocol": "TCP", "port": port}


def _gateway_pod_ports(cluster: ClusterSettings) -> list[dict]:
    return [tcp_port(port) for port in sorted({cluster.gateway_pod_https_port, cluster.gateway_pod_http_port})]


def dns_rule(cluster: ClusterSettings) -> dict:
    return {
        "to": [
            {
                "namespaceSelector": namespace_selector(cluster.dns_namespace),
                "podSelector": {"matchLabels": labels_dict(cluster.dns_selector)},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, tcp_port(53)],
    }


def app_policy(plan: Plan, namespace: NamespacePlan, rules: list[dict]) -> Draft:
    """An enforced namespace's egress policy: DNS, the mode's own `rules`, the exact CIDR and port of
    each direct TCP exception and, with `in_cluster_egress: allow`, the cluster's pods and CIDRs."""
    egress = [dns_rule(plan.cluster), *rules]
    for cidr, port in sorted(namespace.direct):
        egress.append({"to": [{"ipBlock": {"cidr": cidr}}], "ports": [tcp_port(port)]})
    if plan.in_cluster_allowed:
        # An empty namespaceSelector selects every namespace, so every pod of the cluster, any port.
        egress.append({"to": [{"namespaceSelector": {}}]})
        if plan.in_cluster_cidrs:
            egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in plan.in_cluster_cidrs]})
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}
    return Draft(NETWORK_POLICY, namespace.name, APP_POLICY_NAME, spec, grant_labels(namespace.grants))


def proxy_ingress_policy(plan: Plan, namespace: str, name: str, pods: dict, ports: list[dict]) -> Draft:
    """The egress proxy's pods accept `ports` only from namespaces routed through them, plus probes."""
    sources = sorted(source for source, app in plan.namespaces.items() if app.uses_gateway)
    ingress = []
    if sources:
        selector = {"matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sources}]}
        ingress.append({"from": [{"namespaceSelector": selector}], "ports": ports})
    ingress.append({"ports": [tcp_port(GATEWAY_STATUS_PORT)]})
    spec = {"podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress"], "ingress": ingress}
    return Draft(NETWORK_POLICY, namespace, name, spec)


def app_network_policy(plan: Plan, namespace: NamespacePlan) -> Draft:
    cluster = plan.cluster
    rules = [
        {
            "to": [
                {
                    "namespaceSelector": namespace_selector(cluster.istiod_namespace),
                    "podSelector": {"matchLabels": labels_dict(cluster.istiod_selector)},
                }
            ],
            "ports": [tcp_port(ISTIOD_XDS_PORT)],
        },
        {
            # Pod ports, not Service ports: NetworkPolicy sees the pod (8443/8080 on the legacy chart).
            "to": [
                {
                    "namespaceSelector": namespace_selector(cluster.egress_namespace),
                    "podSelector": {"matchLabels": labels_dict(cluster.gateway_selector)},
                }
            ],
            "ports": _gateway_pod_ports(cluster),
        },
    ]
    return app_policy(plan, namespace, rules)


def gateway_network_policy(plan: Plan) -> Draft:
    """Gateway pods accept traffic only from namespaces that route through them, plus probes."""
    cluster = plan.cluster
    pods = labels_dict(cluster.gateway_selector)
    ports = _gateway_pod_ports(cluster)
    return proxy_ingress_policy(plan, cluster.egress_namespace, GATEWAY_POLICY_NAME, pods, ports)
