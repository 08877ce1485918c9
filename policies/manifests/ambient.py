"""Objects for enforcement mode `istio-ambient`: egress through a waypoint (reference §7).

Built from the same plan as the sidecar mode (`plan.py`), with `ambient_rules` saying what a
waypoint can carry. ztunnel sends traffic for a ServiceEntry labelled `istio.io/use-waypoint` to
the waypoint over HBONE (mTLS on 15008), so the waypoint sees the client identity; no routing
VirtualService, gateway DestinationRule or Sidecar exists in ambient.

Per host, whatever the number of grants: a ServiceEntry in the egress namespace bound to the
waypoint and exported only to the granted namespaces, an ALLOW AuthorizationPolicy attached to it
(`targetRefs`) listing the granted principals, and for `http-originate` a DestinationRule that
originates and verifies TLS at the waypoint. Per cluster: the waypoint `Gateway` (unless the
platform team runs it), an allow-nothing policy on the waypoint (so a ServiceEntry without its own
policy is closed, whatever the apply order), the waypoint's ingress NetworkPolicy and its access log.
Per enforced app namespace: an egress NetworkPolicy (DNS, HBONE to the waypoint, in-cluster).
"""

import ipaddress

from policies.manifests import names, networkpolicy
from policies.manifests.draft import Draft, grant_labels
from policies.manifests.inputs import ClusterSettings, RenderInput, Unrenderable
from policies.manifests.kinds import (
    AUTHORIZATION_POLICY,
    DESTINATION_RULE,
    SERVICE_ENTRY,
    TELEMETRY,
    WAYPOINT_GATEWAY,
)
from policies.manifests.plan import (
    DIRECT,
    DYNAMIC,
    PROTO_HTTP,
    PROTO_ORIGINATE,
    PROTO_TCP,
    PROTO_TLS,
    TCP,
    HostPlan,
    NamespacePlan,
    Plan,
    PlanRules,
    build_plan,
)

HBONE_PORT = 15008  # ztunnel → waypoint, mTLS (reference §7)
WAYPOINT_CLASS = "istio-waypoint"
# Labels Istio reads (istio/api label/labels.yaml) and sets on the waypoint's pods.
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
GATEWAY_API_GROUP = WAYPOINT_GATEWAY.group

# Beside the hosts' policies in one namespace: a host's object name always holds a single hyphen (from
# a dot, names.slug), this one only double ones, so no host can take it.
DEFAULT_DENY_NAME = "egressui--waypoint--default--deny"
TELEMETRY_NAME = "egressui-waypoint-access-log"
WAYPOINT_POLICY_NAME = "egressui-waypoint-ingress"

# First Istio minor whose waypoint serves a wildcard ServiceEntry (DYNAMIC_DNS) for each protocol
# (reference §4.2): HTTP since 1.28; TLS since 1.29 behind a flag, working on TLS-only waypoints from
# 1.30 (istio/istio#59024), so 1.30.
DYNAMIC_DNS_SINCE = {PROTO_HTTP: (1, 28), PROTO_ORIGINATE: (1, 28), PROTO_TLS: (1, 30)}
OLDEST_AMBIENT = (1, 24)  # ambient GA: what an unknown version is taken to be


def istio_minor(version: str) -> tuple[int, int] | None:
    """`1.30` or `1.30.3` → (1, 30); anything else → None."""
    parts = version.strip().split(".")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def ambient_rules(cluster: ClusterSettings) -> PlanRules:
    """What a waypoint can carry on this cluster's Istio version."""
    known = istio_minor(cluster.istio_version)
    version = known or OLDEST_AMBIENT
    said = f"Istio {cluster.istio_version}" if known else "no Istio version (taken as 1.24)"

    def dynamic_wildcard(protocol: str) -> str:
        since = DYNAMIC_DNS_SINCE.get(protocol)
        if since is not None and version >= since:
            return ""
        need = f"Istio {since[0]}.{since[1]}" if since else "a protocol the proxy can read a name from"
        return (
            f"A wildcard reaches the waypoint only as a DYNAMIC_DNS ServiceEntry, which for {protocol} needs "
            f"{need}; the cluster's settings say {said}. Set the cluster's Istio version, or list the concrete "
            "hosts the wildcard is used for (expanded hosts on the request)."
        )

    # ztunnel and waypoints do not serve wildcard hosts other than DYNAMIC_DNS, so no serving host;
    # there are no gateway Service ports to share.
    return PlanRules(serving_hosts=False, dynamic_wildcard=dynamic_wildcard, gateway_ports=False)


def _export_to(cluster: ClusterSettings, namespaces: set[str]) -> list[str]:
    # "." keeps the entry visible in its own namespace; a waypoint elsewhere must see it as well.
    extra = {cluster.waypoint_ns} - {cluster.egress_namespace}
    return ["."] + sorted(namespaces | extra)


def _waypoint_labels(cluster: ClusterSettings) -> tuple[tuple[str, str], ...]:
    labels = [(USE_WAYPOINT, cluster.waypoint_name)]
    if cluster.waypoint_ns != cluster.egress_namespace:
        labels.append((USE_WAYPOINT_NAMESPACE, cluster.waypoint_ns))
    return tuple(labels)


def _ports(plan: HostPlan) -> list[dict]:
    """The entry's ports from its routes: the port the application dials, with the protocol the
    waypoint reads there. `http-originate` is HTTP on 80 sent on to the host's TLS port (targetPort)."""
    ports = []
    for route in plan.routes.values():
        if route.protocol == PROTO_ORIGINATE:
            ports.append({"number": 80, "name": "http-80", "protocol": "HTTP", "targetPort": route.port})
        else:
            protocol = {PROTO_TLS: "TLS", PROTO_HTTP: "HTTP", PROTO_TCP: "TCP"}[route.protocol]
            ports.append({"number": route.port, "name": f"{protocol.lower()}-{route.port}", "protocol": protocol})
    return sorted(ports, key=lambda port: port["number"])


def _addresses(cidr: str) -> list[str]:
    """Each address of a pool: ztunnel matches a ServiceEntry by exact address, not by CIDR
    (istio/istio#57677, #59173), so a range is listed address by address (at most the pool limit)."""
    network = ipaddress.ip_network(cidr)
    hosts = [network.network_address] if network.num_addresses == 1 else list(network.hosts())
    return [str(address) for address in hosts]


def service_entry(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    spec: dict = {"hosts": [plan.host], "location": "MESH_EXTERNAL", "ports": _ports(plan)}
    if plan.kind == TCP:
        # The waypoint forwards to the pool's addresses; the original destination is not kept.
        addresses = _addresses(plan.cidr)
        spec["addresses"] = addresses
        spec["resolution"] = "STATIC"
        spec["endpoints"] = [{"address": address} for address in addresses]
    elif plan.kind == DYNAMIC:
        spec["resolution"] = "DYNAMIC_DNS"  # the waypoint resolves the name the client asked for
    else:
        spec["resolution"] = "DNS"
    spec["exportTo"] = _export_to(cluster, plan.namespaces)
    name = names.host_object_name(plan.host)
    grants = grant_labels(plan.grants)
    return Draft(SERVICE_ENTRY, cluster.egress_namespace, name, spec, grants, labels=_waypoint_labels(cluster))


def authorization_policy(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    """ALLOW the granted principals on the ports they were granted, attached to the host's entry
    (waypoints ignore `selector` policies). For a TLS route to a named host the app's SNI must be
    that host too: the entry is chosen by the address dialled, and the SNI binds the grant to the
    name (a shared IP cannot be used to reach another name). ALLOW policies are OR'ed per entry."""
    rules = []
    for route in sorted(plan.routes.values(), key=lambda route: route.app_port):
        rule: dict = {
            "from": [{"source": {"principals": sorted(route.principals)}}],
            "to": [{"operation": {"ports": [str(route.app_port)]}}],
        }
        if route.protocol == PROTO_TLS and plan.kind != DYNAMIC:
            rule["when"] = [{"key": "connection.sni", "values": [plan.host]}]
        rules.append(rule)
    target = {"group": SERVICE_ENTRY.group, "kind": SERVICE_ENTRY.kind, "name": names.host_object_name(plan.host)}
    spec = {"targetRefs": [target], "action": "ALLOW", "rules": rules}
    name = names.host_object_name(plan.host)
    return Draft(AUTHORIZATION_POLICY, cluster.egress_namespace, name, spec, grant_labels(plan.grants))


def _server_verification(cluster: ClusterSettings) -> dict:
    """As in the sidecar mode: a Secret holding the CA (in the waypoint's namespace) or a CA bundle path."""
    if cluster.origination_credential_name:
        return {"credentialName": cluster.origination_credential_name}
    return {"caCertificates": cluster.origination_ca_certificates}


def origination_destination_rule(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    """TLS towards the host from the waypoint, on the entry's port 80 only (its TLS ports pass the
    app's own TLS through, untouched). A named host is verified by name; a wildcard's name is known
    per request only, so SNI and the checked name come from the Host header (Istio's auto-SNI and
    auto-SAN validation, on by default since 1.21)."""
    tls: dict = {"mode": "SIMPLE"}
    if plan.kind != DYNAMIC:
        tls |= {"sni": plan.host, "subjectAltNames": [plan.host]}
    tls |= _server_verification(cluster)
    spec = {
        "host": plan.host,
        "exportTo": _export_to(cluster, set()),  # only the waypoint originates
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": 80}, "tls": tls}]},
    }
    name = names.host_object_name(plan.host, "originate-")
    return Draft(DESTINATION_RULE, cluster.egress_namespace, name, spec, grant_labels(plan.grants))


def _waypoint_ref(cluster: ClusterSettings) -> dict:
    return {"group": GATEWAY_API_GROUP, "kind": WAYPOINT_GATEWAY.kind, "name": cluster.waypoint_name}


def waypoint(cluster: ClusterSettings) -> Draft:
    spec = {
        "gatewayClassName": WAYPOINT_CLASS,
        "listeners": [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}],
    }
    labels = ((WAYPOINT_FOR, "service"),)  # ServiceEntries count as services
    return Draft(WAYPOINT_GATEWAY, cluster.waypoint_ns, cluster.waypoint_name, spec, labels=labels)


def default_deny(cluster: ClusterSettings) -> Draft:
    """An ALLOW policy without rules on the waypoint: nothing passes it unless a host's own policy
    allows it. Without it, an entry bound to the waypoint before its policy exists (or after the
    policy is deleted) would be open to every workload it is exported to."""
    spec = {"targetRefs": [_waypoint_ref(cluster)], "action": "ALLOW"}
    return Draft(AUTHORIZATION_POLICY, cluster.waypoint_ns, DEFAULT_DENY_NAME, spec)


def telemetry(cluster: ClusterSettings) -> Draft:
    """The waypoint's access log through the cluster's JSON provider (docs/monitoring.md)."""
    spec = {
        "targetRefs": [_waypoint_ref(cluster)],
        "accessLogging": [{"providers": [{"name": cluster.access_log_provider}]}],
    }
    return Draft(TELEMETRY, cluster.waypoint_ns, TELEMETRY_NAME, spec)


def _waypoint_pods(cluster: ClusterSettings) -> dict:
    return {
        "namespaceSelector": networkpolicy.namespace_selector(cluster.waypoint_ns),
        "podSelector": {"matchLabels": {GATEWAY_NAME_LABEL: cluster.waypoint_name}},
    }


def app_network_policy(plan: Plan, namespace: NamespacePlan) -> Draft:
    """An enforced namespace reaches DNS, the waypoint's HBONE port (ztunnel connects from inside the
    pod's network namespace, so the pod's policy applies to it) and, with `in_cluster_egress: allow`,
    every pod and the listed CIDRs; anything ztunnel would pass through to the internet is dropped.
    Same name as the sidecar mode's, so a mode migration updates it in place. No istiod rule: in
    ambient the node's ztunnel, not the pod, talks to istiod."""
    hbone = {"to": [_waypoint_pods(plan.cluster)], "ports": [networkpolicy.tcp_port(HBONE_PORT)]}
    return networkpolicy.app_policy(plan, namespace, [hbone])


def waypoint_network_policy(plan: Plan) -> Draft:
    """The waypoint's pods accept HBONE only from namespaces routed through it, plus probes."""
    cluster = plan.cluster
    pods = {GATEWAY_NAME_LABEL: cluster.waypoint_name}
    ports = [networkpolicy.tcp_port(HBONE_PORT)]
    return networkpolicy.proxy_ingress_policy(plan, cluster.waypoint_ns, WAYPOINT_POLICY_NAME, pods, ports)


def ambient_drafts(data: RenderInput) -> tuple[list[Draft], list[Unrenderable]]:
    """The mode's builder (`render.MODE_BUILDERS`): the shared plan with what a waypoint can carry."""
    plan = build_plan(data, ambient_rules(data.cluster))
    return drafts(plan), plan.unrenderable


def drafts(plan: Plan) -> list[Draft]:
    """Every object of an ambient cluster. Direct TCP exceptions need no entry: ztunnel passes an
    address no entry claims straight through, and the namespace's NetworkPolicy lets exactly it out."""
    cluster = plan.cluster
    result: list[Draft] = []
    for host in plan.hosts.values():
        if host.kind == DIRECT or not host.routes:
            continue
        result.append(service_entry(cluster, host))
        result.append(authorization_policy(cluster, host))
        if any(route.protocol == PROTO_ORIGINATE for route in host.routes.values()):
            result.append(origination_destination_rule(cluster, host))
    for namespace in plan.namespaces.values():
        if namespace.enforced:
            result.append(app_network_policy(plan, namespace))
    if not cluster.waypoint_managed_by_platform:
        result.append(waypoint(cluster))
    result.append(default_deny(cluster))
    result.append(waypoint_network_policy(plan))
    if cluster.access_log_provider:
        result.append(telemetry(cluster))
    return result
