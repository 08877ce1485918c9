"""Istio objects for the egress gateway (reference §1 Variant M, §2, §3, §4.1, §5, §6.3, §8.2).

Per host, whatever the number of grants: one ServiceEntry, one Gateway, one DestinationRule
subset on the gateway Service, one VirtualService and one AuthorizationPolicy, all in the egress
namespace. Per app namespace a Sidecar (REGISTRY_ONLY when enforced, ALLOW_ANY when observed) and
a Telemetry logging the sidecars' catch-all cluster; one Telemetry for the gateway per cluster.
"""

import ipaddress

from policies.manifests import names
from policies.manifests.draft import Draft, grant_labels, labels_dict
from policies.manifests.inputs import ClusterSettings
from policies.manifests.kinds import (
    AUTHORIZATION_POLICY,
    DESTINATION_RULE,
    GATEWAY,
    SERVICE_ENTRY,
    SIDECAR,
    TELEMETRY,
    VIRTUAL_SERVICE,
)
from policies.manifests.plan import (
    DIRECT,
    HTTP_CLASS,
    PROTO_ORIGINATE,
    PROTO_TLS,
    TCP,
    TLS_CLASS,
    WILDCARD,
    HostPlan,
    NamespacePlan,
    Plan,
)

MESH = "mesh"
ISTIO_MUTUAL = {"mode": "ISTIO_MUTUAL"}
ORIGINATION_SUBSET = "tls-origination"
TELEMETRY_NAME = "egressui-gateway-access-log"
SOURCE_TELEMETRY_NAME = "egressui-source-access-log"
SIDECAR_NAME = "default"  # the namespace-wide Sidecar: no workloadSelector, one per namespace
# Envoy attributes (xds.cluster_name, xds.route_name) naming the sidecar's catch-alls. REGISTRY_ONLY
# refuses TCP/TLS through BlackHoleCluster but answers HTTP on a known port from the `block_all`
# route with a direct 502 and no upstream cluster; ALLOW_ANY's `allow_any` route goes to
# PassthroughCluster, so the cluster name alone covers observed HTTP (docs/monitoring.md §1).
BLOCKED_AT_SOURCE_FILTER = "xds.cluster_name == 'BlackHoleCluster' || xds.route_name == 'block_all'"
OBSERVED_FILTER = "xds.cluster_name == 'PassthroughCluster'"


def service_entry_name(host: str) -> str:
    return names.host_object_name(host)


def routing_name(host: str) -> str:
    """Name of a host's Gateway, VirtualService and AuthorizationPolicy, and of its gateway subset."""
    return names.host_object_name(host)


def gateway_rule_name(host: str) -> str:
    return names.host_object_name(host, "egressgw-")


def origination_rule_name(host: str) -> str:
    return names.host_object_name(host, "originate-")


def _export_to(namespaces: set[str]) -> list[str]:
    # The egress namespace itself is "." (grants in it are refused: istiod rejects "." next to its name).
    return ["."] + sorted(namespaces)


def service_entry(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    ports = [
        {"number": number, "name": f"{protocol.lower()}-{number}", "protocol": protocol}
        for number, protocol in sorted(plan.ports.items())
    ]
    spec: dict = {"hosts": [plan.host], "location": "MESH_EXTERNAL", "ports": ports}
    if plan.kind == TCP:
        # STATIC endpoints: at the gateway the original destination IP is gone (reference §3.2).
        spec["addresses"] = [plan.cidr]
        spec["resolution"] = "STATIC"
        spec["endpoints"] = [{"address": str(address)} for address in _pool(plan.cidr)]
    elif plan.kind == DIRECT:
        spec["addresses"] = [plan.cidr]
        spec["resolution"] = "NONE"  # the sidecar passes the connection to the address dialled
    elif plan.kind == WILDCARD:
        spec["resolution"] = "NONE"  # mesh side only; the gateway forwards to the serving host (§4.1)
    else:
        spec["resolution"] = "DNS"  # not NONE: at the gateway NONE would loop back to itself
    spec["exportTo"] = sorted(plan.namespaces) if plan.kind == DIRECT else _export_to(plan.namespaces)
    return Draft(
        SERVICE_ENTRY, cluster.egress_namespace, service_entry_name(plan.host), spec, grant_labels(plan.grants)
    )


def _pool(cidr: str) -> list:
    network = ipaddress.ip_network(cidr)
    return [network.network_address] if network.num_addresses == 1 else list(network.hosts())


def gateway(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    bound = f"{cluster.egress_namespace}/{plan.host}"
    servers = []
    if TLS_CLASS in plan.routes:
        port = {
            "number": cluster.gateway_https_port,
            "name": names.host_object_name(plan.host, "tls-"),
            "protocol": "TLS",
        }
        servers.append({"port": port, "hosts": [bound], "tls": dict(ISTIO_MUTUAL)})
    if HTTP_CLASS in plan.routes:
        # HTTPS here means mTLS from the sidecar outside, plain HTTP inside (reference §2).
        port = {
            "number": cluster.gateway_http_port,
            "name": names.host_object_name(plan.host, "https-"),
            "protocol": "HTTPS",
        }
        servers.append({"port": port, "hosts": [bound], "tls": dict(ISTIO_MUTUAL)})
    spec = {"selector": labels_dict(cluster.gateway_selector), "servers": servers}
    return Draft(GATEWAY, cluster.egress_namespace, routing_name(plan.host), spec, _route_grants(plan))


def _gateway_ports(cluster: ClusterSettings, plan: HostPlan) -> list[int]:
    ports = set()
    if TLS_CLASS in plan.routes:
        ports.add(cluster.gateway_https_port)
    if HTTP_CLASS in plan.routes:
        ports.add(cluster.gateway_http_port)
    return sorted(ports)


def gateway_destination_rule(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    """The host's subset of the gateway Service: sidecar → gateway in ISTIO_MUTUAL with the host as
    SNI, so the gateway knows the client identity and which server the connection is for."""
    settings = [
        {"port": {"number": port}, "tls": {"mode": "ISTIO_MUTUAL", "sni": plan.outer_sni}}
        for port in _gateway_ports(cluster, plan)
    ]
    spec = {
        "host": cluster.gateway_service_host,
        # Same exportTo on every rule for the gateway host, or istiod does not merge their subsets (§9.8).
        "exportTo": ["*"],
        "subsets": [{"name": routing_name(plan.host), "trafficPolicy": {"portLevelSettings": settings}}],
    }
    return Draft(DESTINATION_RULE, cluster.egress_namespace, gateway_rule_name(plan.host), spec, _route_grants(plan))


def uses_origination_subset(plan: HostPlan) -> bool:
    """TLS origination goes into a subset when the same port also carries passthrough TLS, which a
    port-wide SIMPLE setting would wrap a second time (reference §2, istio/istio#23740)."""
    return bool(plan.originate_ports & plan.passthrough_ports)


def _server_verification(cluster: ClusterSettings) -> dict:
    """How the gateway verifies a server it originates TLS to: a Secret holding the CA (it must be in
    the gateway pods' namespace) or a CA bundle path in the proxy image; never nothing (IST0129)."""
    if cluster.origination_credential_name:
        return {"credentialName": cluster.origination_credential_name}
    return {"caCertificates": cluster.origination_ca_certificates}


def origination_destination_rule(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    verification = _server_verification(cluster)
    settings = [
        {
            "port": {"number": port},
            "tls": {"mode": "SIMPLE", "sni": plan.host, "subjectAltNames": [plan.host], **verification},
        }
        for port in sorted(plan.originate_ports)
    ]
    spec: dict = {"host": plan.host, "exportTo": ["."]}  # only the gateway, in this namespace, originates
    if uses_origination_subset(plan):
        spec["subsets"] = [{"name": ORIGINATION_SUBSET, "trafficPolicy": {"portLevelSettings": settings}}]
    else:
        spec["trafficPolicy"] = {"portLevelSettings": settings}
    name = origination_rule_name(plan.host)
    return Draft(DESTINATION_RULE, cluster.egress_namespace, name, spec, _route_grants(plan))


def virtual_service(cluster: ClusterSettings, plan: HostPlan, hosts: dict[str, HostPlan]) -> Draft:
    """One VirtualService per host with every leg: sidecars (`mesh`) send to the gateway subset, the
    gateway forwards to the real destination. Two mesh VirtualServices for one host would conflict."""
    gateway_ref = f"{cluster.egress_namespace}/{routing_name(plan.host)}"
    subset = routing_name(plan.host)

    def to_gateway(port: int) -> list[dict]:
        return [{"destination": {"host": cluster.gateway_service_host, "subset": subset, "port": {"number": port}}}]

    spec: dict = {
        "hosts": [plan.host],
        "gateways": [MESH, gateway_ref],
        "exportTo": _export_to(plan.namespaces),
    }
    https_port, http_port = cluster.gateway_https_port, cluster.gateway_http_port
    tls_route = plan.routes.get(TLS_CLASS)
    if tls_route is not None:
        mesh_tcp = []
        if tls_route.protocol == PROTO_TLS:
            mesh_match = {"gateways": [MESH], "port": tls_route.port, "sniHosts": [plan.host]}
            spec["tls"] = [{"match": [mesh_match], "route": to_gateway(https_port)}]
        else:  # tcp: the sidecar can only match the address dialled (reference §3.2 option 1)
            mesh_match = {"gateways": [MESH], "port": tls_route.port, "destinationSubnets": [plan.cidr]}
            mesh_tcp.append({"match": [mesh_match], "route": to_gateway(https_port)})
        # On the gateway the outer mTLS is terminated and the inner bytes go on as TCP (§1.1).
        upstream = {"host": tls_route.upstream, "port": {"number": tls_route.port}}
        gateway_leg = {"match": [{"gateways": [gateway_ref], "port": https_port}], "route": [{"destination": upstream}]}
        spec["tcp"] = [*mesh_tcp, gateway_leg]
    http_route = plan.routes.get(HTTP_CLASS)
    if http_route is not None:
        upstream = {"host": http_route.upstream, "port": {"number": http_route.port}}
        if http_route.protocol == PROTO_ORIGINATE and uses_origination_subset(hosts[http_route.upstream]):
            upstream["subset"] = ORIGINATION_SUBSET
        spec["http"] = [
            {"match": [{"gateways": [MESH], "port": http_route.app_port}], "route": to_gateway(http_port)},
            {"match": [{"gateways": [gateway_ref], "port": http_port}], "route": [{"destination": upstream}]},
        ]
    return Draft(VIRTUAL_SERVICE, cluster.egress_namespace, routing_name(plan.host), spec, _route_grants(plan))


def authorization_policy(cluster: ClusterSettings, plan: HostPlan) -> Draft:
    """ALLOW the granted principals, per gateway pod port, only for this host's SNI (reference §5).
    ALLOW policies are OR'ed, so one policy per host leaves other hosts' policies untouched."""
    by_port: dict[int, set[str]] = {}
    for klass, route in plan.routes.items():
        port = cluster.gateway_pod_https_port if klass == TLS_CLASS else cluster.gateway_pod_http_port
        by_port.setdefault(port, set()).update(route.principals)
    rules = [
        {
            "from": [{"source": {"principals": sorted(principals)}}],
            "to": [{"operation": {"ports": [str(port)]}}],
            "when": [{"key": "connection.sni", "values": [plan.outer_sni]}],
        }
        for port, principals in sorted(by_port.items())
    ]
    spec = {"selector": {"matchLabels": labels_dict(cluster.gateway_selector)}, "action": "ALLOW", "rules": rules}
    return Draft(AUTHORIZATION_POLICY, cluster.egress_namespace, routing_name(plan.host), spec, _route_grants(plan))


def _route_grants(plan: HostPlan) -> str:
    if plan.annotation is None:
        plan.annotation = grant_labels(plan.grants)
    return plan.annotation


def sidecar(plan: Plan, namespace: NamespacePlan) -> Draft:
    """Import only what the namespace was granted (keeping other namespaces' VirtualServices out of
    its config, reference §6.3, §9.2) plus the cluster's own services where in-cluster traffic is
    left alone. Enforced: REGISTRY_ONLY, so anything else fails fast in the pod (BlackHoleCluster).
    Observed: the same imports with ALLOW_ANY, so exactly what enforcing would refuse passes
    through PassthroughCluster, where the source access log sees it."""
    cluster = plan.cluster
    imported = ["./*", f"{cluster.istiod_namespace}/*", f"{cluster.gateway_namespace}/{cluster.gateway_service_host}"]
    # Observing never cuts in-cluster calls short: without the import, a call to another namespace's
    # service would pass through as plain TCP and fail against STRICT mTLS.
    if plan.in_cluster_allowed or not namespace.enforced:
        imported.append(f"*/*.svc.{cluster.cluster_domain}")
    imported += sorted(f"{cluster.egress_namespace}/{host}" for host in namespace.hosts)
    spec = {
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY" if namespace.enforced else "ALLOW_ANY"},
        "egress": [{"hosts": list(dict.fromkeys(imported))}],
    }
    return Draft(SIDECAR, namespace.name, SIDECAR_NAME, spec, grant_labels(namespace.grants))


def source_telemetry(cluster: ClusterSettings, namespace: NamespacePlan) -> Draft:
    """The namespace's sidecars log only connections that hit their catch-all: what enforcing would
    block (observed) or what it blocked in the pod, never reaching the gateway (enforced). The
    provider's format names the proxy's own namespace and service account (docs/monitoring.md §1)."""
    expression = BLOCKED_AT_SOURCE_FILTER if namespace.enforced else OBSERVED_FILTER
    logging = {
        "providers": [{"name": cluster.source_access_log_provider}],
        "match": {"mode": "CLIENT"},
        "filter": {"expression": expression},
    }
    return Draft(TELEMETRY, namespace.name, SOURCE_TELEMETRY_NAME, {"accessLogging": [logging]})


def telemetry(cluster: ClusterSettings) -> Draft:
    """The gateway's access log through the cluster's JSON provider, for the monitoring feature (§8.2)."""
    spec = {
        "selector": {"matchLabels": labels_dict(cluster.gateway_selector)},
        "accessLogging": [{"providers": [{"name": cluster.access_log_provider}]}],
    }
    return Draft(TELEMETRY, cluster.egress_namespace, TELEMETRY_NAME, spec)
