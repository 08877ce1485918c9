"""Plain data in and out of the renderer. Built by `policies.selectors.manifests` from the database,
or by hand in tests and benchmarks; nothing here touches Django models."""

from dataclasses import dataclass, field
from datetime import datetime

from policies.choices import EnforcementMode, GrantStatus, InClusterEgress, NamespaceEnforcement
from policies.constants import DEFAULT_CILIUM_VERSION, SYSTEM_CA_BUNDLE

# Plain strings: the renderer compares them thousands of times.
OBSERVE, ENFORCE = str(NamespaceEnforcement.OBSERVE.value), str(NamespaceEnforcement.ENFORCE.value)
IN_CLUSTER_ALLOW, IN_CLUSTER_RESTRICT = str(InClusterEgress.ALLOW.value), str(InClusterEgress.RESTRICT.value)
MODE_ISTIO, MODE_AMBIENT = str(EnforcementMode.ISTIO.value), str(EnforcementMode.ISTIO_AMBIENT.value)
MODE_CILIUM = str(EnforcementMode.CILIUM.value)


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """How a cluster's Istio egress gateway is installed. Defaults match the current `gateway` Helm
    chart installed as `istio-egressgateway` in `istio-egress` (reference §1.3, §6.2)."""

    name: str
    egress_namespace: str = "istio-egress"
    gateway_selector: tuple[tuple[str, str], ...] = (("istio", "egressgateway"),)
    gateway_service_host: str = "istio-egressgateway.istio-egress.svc.cluster.local"
    gateway_https_port: int = 443  # Service ports: what Gateway servers and DestinationRules name
    gateway_http_port: int = 80
    gateway_pod_https_port: int = 443  # pod ports: what NetworkPolicy and AuthorizationPolicy see
    gateway_pod_http_port: int = 80  # (8443 / 8080 with the legacy istio-egress chart)
    istiod_namespace: str = "istio-system"
    istiod_selector: tuple[tuple[str, str], ...] = (("app", "istiod"),)
    dns_namespace: str = "kube-system"
    dns_selector: tuple[tuple[str, str], ...] = (("k8s-app", "kube-dns"),)
    trust_domain: str = "cluster.local"
    manage_sidecars: bool = True
    access_log_provider: str = "egress-json"
    wildcard_serving_hosts: tuple[tuple[str, str], ...] = ()
    in_cluster_egress: str = IN_CLUSTER_ALLOW
    in_cluster_cidrs: tuple[str, ...] = ()  # beyond pods: API server endpoints, node-local DNS …
    source_access_log_provider: str = "egressui-source-json"  # "" renders no per-namespace Telemetry
    origination_ca_certificates: str = SYSTEM_CA_BUNDLE
    origination_credential_name: str = ""  # wins over the CA path when set
    mode: str = MODE_ISTIO  # the enforcement mode: which builders render it (render.MODE_BUILDERS)
    cilium_version: str = DEFAULT_CILIUM_VERSION  # "MAJOR.MINOR" of Cilium in the cluster (mode cilium)
    # istio-ambient only (reference §7): the egress waypoint, and who runs it.
    waypoint_name: str = "egress-waypoint"
    waypoint_namespace: str = ""  # "" = the egress namespace
    waypoint_managed_by_platform: bool = False  # True: egressui only refers to it, never renders it
    istio_version: str = ""  # "1.30": decides which wildcards a waypoint can serve; "" = unknown (1.24)

    @property
    def system_namespaces(self) -> frozenset[str]:
        """Namespaces whose pods must never be locked down as an app namespace would be."""
        if self.mode == MODE_CILIUM:
            return frozenset({self.dns_namespace, "kube-system"})  # no mesh: DNS, and Cilium's own agents
        return frozenset(
            {self.egress_namespace, self.istiod_namespace, self.dns_namespace, self.gateway_namespace, self.waypoint_ns}
        )

    @property
    def waypoint_ns(self) -> str:
        return self.waypoint_namespace or self.egress_namespace

    @property
    def cluster_domain(self) -> str:
        """The cluster's DNS domain, read from the gateway Service's FQDN (`….svc.cluster.local`)."""
        _, svc, domain = self.gateway_service_host.partition(".svc.")
        return domain if svc and domain else "cluster.local"

    @property
    def gateway_namespace(self) -> str:
        """Namespace of the gateway Service, read from its FQDN (`name.namespace.svc…`)."""
        parts = self.gateway_service_host.split(".")
        return parts[1] if len(parts) > 2 and parts[2] == "svc" else self.egress_namespace


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """One grant as the renderer sees it. `ref` replaces the id in annotations when set (a preview's
    grants do not exist yet); `id` also orders grants, so an older grant wins a conflict."""

    id: int
    namespace: str
    service_account: str
    host: str
    port: int
    protocol: str
    expanded_hosts: tuple[str, ...] = ()
    tcp_direct: bool = False
    status: str = GrantStatus.ACTIVE
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    ref: str = ""

    def is_effective(self, now: datetime) -> bool:
        if self.status != GrantStatus.ACTIVE:
            return False
        if self.valid_from is not None and self.valid_from > now:
            return False
        return self.expires_at is None or self.expires_at > now

    @property
    def label(self) -> str:
        return self.ref or str(self.id)


@dataclass(frozen=True, slots=True)
class NamespaceSpec:
    """An app namespace egressui manages and its enforcement state (OBSERVE or ENFORCE)."""

    name: str
    enforcement: str = ENFORCE


@dataclass(frozen=True, slots=True)
class RenderInput:
    cluster: ClusterSettings
    grants: tuple[GrantSpec, ...]
    now: datetime  # decides which grants are in force; the renderer has no clock of its own
    # Every onboarded app namespace, with or without grants. A namespace that has grants but is not
    # listed here is enforced: the renderer fails closed.
    namespaces: tuple[NamespaceSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Unrenderable:
    """A grant (or one host of a wildcard grant) that produced nothing, and why."""

    grant: str  # GrantSpec.label
    namespace: str
    service_account: str
    host: str
    port: int
    protocol: str
    reason: str
    grant_id: int = 0  # GrantSpec.id (0 for a destination of an unsaved request that failed validation)


@dataclass(slots=True)
class RenderResult:
    objects: list[dict] = field(default_factory=list)
    unrenderable: list[Unrenderable] = field(default_factory=list)
