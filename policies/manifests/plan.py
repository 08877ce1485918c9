"""Step one of rendering: turn grants into per-host and per-namespace plans, and say which grants
cannot be rendered and why. Step two (`istio.py`, `networkpolicy.py`) only formats plans.

The plan is what every enforcement mode shares: which hosts are granted to whom, which app
namespaces are observed or enforced (with or without grants), and what in-cluster traffic an
enforced namespace keeps. Mode-specific objects are built from it, never decided here.

Grants are taken oldest first, so when two grants cannot both be honoured the older one keeps
working and the newer one is reported (a preview shows this before anyone approves it).
"""

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from policies.choices import Protocol
from policies.manifests import names
from policies.manifests.inputs import (
    ENFORCE,
    IN_CLUSTER_ALLOW,
    OBSERVE,
    ClusterSettings,
    GrantSpec,
    RenderInput,
    Unrenderable,
)

# Plain strings: comparing with TextChoices members goes through the enum machinery, ten thousand times.
PROTO_TLS, PROTO_ORIGINATE, PROTO_HTTP, PROTO_TCP = (
    str(member.value) for member in (Protocol.TLS, Protocol.HTTP_ORIGINATE, Protocol.HTTP, Protocol.TCP)
)
PROTOCOLS = frozenset(Protocol.values)

# A route rides one of the gateway's two servers: the TLS server on the gateway's HTTPS port
# (tls and tcp) or the HTTPS-in-mTLS server on its HTTP port (http and http-originate). The gateway
# tells routes of one host apart only by the outer SNI, so each host has at most one route per class.
TLS_CLASS = "tls"
HTTP_CLASS = "http"
PORT_TLS, PORT_HTTP, PORT_TCP = "TLS", "HTTP", "TCP"

FQDN, WILDCARD, TCP, DIRECT = "fqdn", "wildcard", "tcp", "direct"
DYNAMIC = "dynamic"  # a wildcard the proxy resolves per connection (DYNAMIC_DNS, ambient waypoints)


@dataclass(frozen=True, slots=True)
class PlanRules:
    """Where a mode's data plane differs in what it can carry; everything else is planned alike.

    `serving_hosts`: a wildcard may be routed to one host serving every name under it (§4.1).
    `dynamic_wildcard(protocol)`: None when the mode has no per-connection wildcards, else "" when a
    wildcard of that protocol is served as such, or the reason it is not.
    `gateway_ports`: http routes need a gateway Service port of their own (sidecar mode's gateway)."""

    serving_hosts: bool = True
    dynamic_wildcard: Callable[[str], str] | None = None
    gateway_ports: bool = True


SIDECAR_RULES = PlanRules()

# A TCP pool routed through the gateway lists each address as a STATIC endpoint; wider ranges
# are not a pool of interchangeable servers and need the direct exception.
MAX_TCP_POOL_ADDRESSES = 256

_FQDN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")


def is_fqdn(value: str) -> bool:
    return bool(_FQDN.match(value))


@dataclass(slots=True)
class Route:
    """The one route of a host through one gateway server, shared by every grant that asks for it."""

    protocol: str
    port: int  # the grant's port: the server's port for tls/http/tcp, the TLS port for http-originate
    upstream: str  # the host the gateway forwards to
    first_grant: str
    principals: set[str] = field(default_factory=set)

    @property
    def app_port(self) -> int:
        """The port the application dials."""
        return 80 if self.protocol == PROTO_ORIGINATE else self.port


@dataclass(slots=True)
class HostPlan:
    host: str  # the ServiceEntry host: a FQDN, a wildcard or a synthetic TCP name
    kind: str
    cidr: str = ""
    ports: dict[int, str] = field(default_factory=dict)  # ServiceEntry port → protocol
    namespaces: set[str] = field(default_factory=set)  # namespaces that route to this host
    grants: dict[int, str] = field(default_factory=dict)  # grant id → label, for the annotation
    routes: dict[str, Route] = field(default_factory=dict)  # class → route
    originate_ports: set[int] = field(default_factory=set)  # as an upstream: gateway originates TLS
    passthrough_ports: set[int] = field(default_factory=set)  # as an upstream: TLS passes through
    annotation: str | None = None  # the grants annotation, once all grants are in (see istio._route_grants)

    @property
    def outer_sni(self) -> str:
        return names.wildcard_sni(self.host) if self.kind == WILDCARD else self.host


@dataclass(slots=True)
class NamespacePlan:
    name: str
    enforcement: str = ENFORCE
    grants: dict[int, str] = field(default_factory=dict)
    hosts: set[str] = field(default_factory=set)  # ServiceEntry hosts the namespace may import
    direct: set[tuple[str, int]] = field(default_factory=set)  # (CIDR, port) reached without the gateway
    uses_gateway: bool = False

    @property
    def enforced(self) -> bool:
        """Fail-closed: only granted hosts leave, whether or not there are any."""
        return self.enforcement != OBSERVE


@dataclass(slots=True)
class Plan:
    cluster: ClusterSettings
    hosts: dict[str, HostPlan]
    namespaces: dict[str, NamespacePlan]  # every app namespace: listed ones and those with grants
    unrenderable: list[Unrenderable]

    @property
    def in_cluster_allowed(self) -> bool:
        """Whether enforced namespaces still reach every pod of the cluster and `in_cluster_cidrs`."""
        return self.cluster.in_cluster_egress == IN_CLUSTER_ALLOW

    @property
    def in_cluster_cidrs(self) -> tuple[str, ...]:
        return self.cluster.in_cluster_cidrs if self.in_cluster_allowed else ()


@dataclass(frozen=True, slots=True)
class _Candidate:
    host: str
    kind: str
    protocol: str
    port: int
    upstream: str
    cidr: str = ""

    @property
    def klass(self) -> str | None:
        if self.kind == DIRECT:
            return None
        return HTTP_CLASS if self.protocol in (PROTO_HTTP, PROTO_ORIGINATE) else TLS_CLASS

    def port_needs(self) -> list[tuple[str, int, str]]:
        """(ServiceEntry host, port, protocol) this route needs: where the app dials, where the gateway goes."""
        if self.kind in (TCP, DIRECT):
            return [(self.host, self.port, PORT_TCP)]
        if self.protocol == PROTO_ORIGINATE:
            return [(self.host, 80, PORT_HTTP), (self.upstream, self.port, PORT_TLS)]
        protocol = PORT_HTTP if self.protocol == PROTO_HTTP else PORT_TLS
        needs = [(self.host, self.port, protocol)]
        if self.upstream != self.host:
            needs.append((self.upstream, self.port, protocol))
        return needs


def principal(cluster: ClusterSettings, grant: GrantSpec) -> str:
    return f"{cluster.trust_domain}/ns/{grant.namespace}/sa/{grant.service_account}"


def _tcp_candidate(grant: GrantSpec) -> _Candidate | str:
    try:
        network = ipaddress.ip_network(grant.host, strict=False)
    except ValueError:
        return f"{grant.host} is not an IP address or CIDR range; tcp destinations are addressed by IP."
    cidr = str(network)
    if grant.tcp_direct:
        host = names.tcp_synthetic_host(cidr, grant.port, direct=True)
        return _Candidate(host, DIRECT, grant.protocol, grant.port, host, cidr)
    if network.num_addresses > MAX_TCP_POOL_ADDRESSES:
        return (
            f"{cidr} holds {network.num_addresses} addresses; the gateway can route a pool of at most "
            f"{MAX_TCP_POOL_ADDRESSES}. Narrow the range, or request direct access (tcp_direct) as an exception."
        )
    host = names.tcp_synthetic_host(cidr, grant.port)
    return _Candidate(host, TCP, grant.protocol, grant.port, host, cidr)


def _candidates(grant: GrantSpec, serving: dict[str, str], rules: PlanRules) -> list[tuple[str, _Candidate | str]]:
    """(host named in reports, candidate route or the reason there is none) for one grant."""
    if grant.protocol not in PROTOCOLS:
        return [(grant.host, f"Unknown protocol {grant.protocol!r}.")]
    if not 1 <= grant.port <= 65535:
        return [(grant.host, f"Port {grant.port} is outside 1–65535.")]
    if grant.protocol == PROTO_TCP:
        return [(grant.host, _tcp_candidate(grant))]
    if grant.tcp_direct:
        return [(grant.host, "Direct access (tcp_direct) exists only for tcp destinations.")]
    host = grant.host
    if not host.startswith("*."):
        if not is_fqdn(host):
            return [(host, f"{host} is not a fully qualified host name.")]
        if host.split(".", 1)[0] == names.WILDCARD_SNI_LABEL:
            return [(host, f"{names.WILDCARD_SNI_LABEL} is reserved for the SNI of wildcard routes.")]
        return [(host, _Candidate(host, FQDN, grant.protocol, grant.port, host))]
    if not is_fqdn(host[2:]):
        return [(host, f"{host} is not a valid wildcard host.")]
    target = serving.get(host)
    if target is not None:
        if not is_fqdn(target):
            return [(host, f"The cluster names {target!r} as the host serving {host}; that is not a host name.")]
        return [(host, _Candidate(host, WILDCARD, grant.protocol, grant.port, target))]
    if not grant.expanded_hosts:
        if rules.dynamic_wildcard is not None:
            reason = rules.dynamic_wildcard(grant.protocol)
            return [(host, reason or _Candidate(host, DYNAMIC, grant.protocol, grant.port, host))]
        return [
            (
                host,
                f"{host} is a wildcard: the gateway can route it only to one host serving every name under it "
                "(set the cluster's wildcard serving host) or as the list of concrete hosts it is used for "
                "(expanded hosts on the request). It has neither, so nothing was rendered.",
            )
        ]
    result: list[tuple[str, _Candidate | str]] = []
    for concrete in grant.expanded_hosts:
        if not is_fqdn(concrete) or not concrete.endswith(host[1:]):
            result.append((concrete, f"{concrete} is not a concrete host under {host}."))
        else:
            result.append((concrete, _Candidate(concrete, FQDN, grant.protocol, grant.port, concrete)))
    return result


def _conflict(hosts: dict[str, HostPlan], candidate: _Candidate) -> str:
    """Why `candidate` cannot join what is already planned, or ''."""
    expected = [(candidate.host, candidate.kind)]
    if candidate.upstream != candidate.host:
        expected.append((candidate.upstream, FQDN))
    for host, kind in expected:
        existing = hosts.get(host)
        if existing is not None and existing.kind != kind:
            return f"{host} is already rendered as a {existing.kind} host."
    klass = candidate.klass
    plan = hosts.get(candidate.host)
    if klass and plan is not None and klass in plan.routes:
        route = plan.routes[klass]
        if (route.protocol, route.port, route.upstream) != (candidate.protocol, candidate.port, candidate.upstream):
            return (
                f"{candidate.host} already goes through the gateway as {route.protocol} on port {route.port} "
                f"(grant {route.first_grant}); the gateway tells a host's routes apart only by SNI, so it "
                f"cannot also carry {candidate.protocol} on port {candidate.port}."
            )
    for host, port, protocol in candidate.port_needs():
        existing_protocol = hosts[host].ports.get(port) if host in hosts else None
        if existing_protocol is not None and existing_protocol != protocol:
            return f"Port {port} of {host} is already rendered as {existing_protocol}, not {protocol}."
    return ""


def _register(hosts: dict[str, HostPlan], candidate: _Candidate, first_grant: str) -> None:
    """Make room for a route the first time it is accepted: host plans, ports, the route itself."""
    if candidate.host not in hosts:
        hosts[candidate.host] = HostPlan(candidate.host, candidate.kind, candidate.cidr)
    for host, port, protocol in candidate.port_needs():
        if host not in hosts:
            hosts[host] = HostPlan(host, FQDN)
        hosts[host].ports[port] = protocol
    upstream = hosts[candidate.upstream]
    if candidate.protocol == PROTO_ORIGINATE:
        upstream.originate_ports.add(candidate.port)
    elif candidate.protocol == PROTO_TLS:
        upstream.passthrough_ports.add(candidate.port)
    klass = candidate.klass
    if klass and klass not in hosts[candidate.host].routes:
        hosts[candidate.host].routes[klass] = Route(candidate.protocol, candidate.port, candidate.upstream, first_grant)


def listed_namespaces(data: RenderInput) -> dict[str, NamespacePlan]:
    """Plans of the listed app namespaces, by name: listed first so one without grants is planned
    too (enforced means fail-closed). System namespaces are never app namespaces."""
    system = data.cluster.system_namespaces
    return {
        spec.name: NamespacePlan(spec.name, spec.enforcement)
        for spec in sorted(data.namespaces, key=lambda spec: spec.name)
        if spec.name not in system
    }


def effective_grants(data: RenderInput) -> list[GrantSpec]:
    """Grants in force at `data.now`, oldest first (an older grant wins a conflict)."""
    now = data.now
    return sorted((grant for grant in data.grants if grant.is_effective(now)), key=lambda grant: grant.id)


def unrenderable_for(grant: GrantSpec, host: str, reason: str) -> Unrenderable:
    return Unrenderable(
        grant.label, grant.namespace, grant.service_account, host, grant.port, grant.protocol, reason, grant.id
    )


def build_plan(data: RenderInput, rules: PlanRules = SIDECAR_RULES) -> Plan:
    cluster = data.cluster
    serving = {
        wildcard.lower().rstrip("."): host.lower().rstrip(".")
        for wildcard, host in (cluster.wildcard_serving_hosts if rules.serving_hosts else ())
    }
    system = cluster.system_namespaces
    hosts: dict[str, HostPlan] = {}
    namespaces = listed_namespaces(data)
    unrenderable: list[Unrenderable] = []
    # Grants share destinations (thousands of grants, far fewer hosts): expand each destination once,
    # and check a route for conflicts only until it has been accepted; after that it always fits.
    expanded: dict[tuple, list[tuple[str, _Candidate | str]]] = {}
    accepted: set[_Candidate] = set()
    shared_port = rules.gateway_ports and cluster.gateway_http_port == cluster.gateway_https_port
    for grant in effective_grants(data):
        label = grant.label

        def report(host: str, reason: str, grant: GrantSpec = grant) -> None:
            unrenderable.append(unrenderable_for(grant, host, reason))

        if grant.namespace in system:
            report(
                grant.host,
                f"{grant.namespace} is a system namespace (egress gateway, istiod or DNS); its workloads "
                "cannot be given egress grants.",
            )
            continue
        namespace = namespaces.get(grant.namespace)
        if namespace is None:
            namespace = namespaces[grant.namespace] = NamespacePlan(grant.namespace)
        namespace.grants[grant.id] = label
        who = principal(cluster, grant)
        key = (grant.host, grant.protocol, grant.port, grant.tcp_direct, grant.expanded_hosts)
        candidates = expanded.get(key)
        if candidates is None:
            candidates = expanded[key] = _candidates(grant, serving, rules)
        for reported_host, candidate in candidates:
            if isinstance(candidate, str):
                report(reported_host, candidate)
                continue
            # What a namespace imports and whether it may reach the gateway follow from its own grants,
            # not from who won a conflict: removing another team's grant never touches this namespace.
            # Importing a host whose route was refused is inert (its ServiceEntry is not exported here).
            namespace.hosts.add(candidate.host)
            if candidate.kind != DIRECT:
                namespace.uses_gateway = True
            if candidate.klass == HTTP_CLASS and shared_port:
                report(
                    reported_host,
                    f"The cluster's gateway HTTP and HTTPS Service ports are both {cluster.gateway_http_port}; "
                    "http routes need a port of their own on the gateway.",
                )
                continue
            if candidate not in accepted:
                reason = _conflict(hosts, candidate)
                if reason:
                    report(reported_host, reason)
                    continue
                _register(hosts, candidate, label)
                accepted.add(candidate)
            plan = hosts[candidate.host]
            plan.namespaces.add(grant.namespace)
            plan.grants[grant.id] = label
            if candidate.upstream != candidate.host:
                hosts[candidate.upstream].grants[grant.id] = label
            klass = candidate.klass
            if klass:
                plan.routes[klass].principals.add(who)
            if candidate.kind == DIRECT:
                namespace.direct.add((candidate.cidr, candidate.port))
    return Plan(cluster, hosts, namespaces, unrenderable)
