"""The kinds the renderer emits, in make-before-break apply order (reference §1.3).

The reconciler lists a cluster's mode's kinds (`kinds_for_mode`), applies in this order and deletes
in reverse order. A new kind is added here and granted in deploy/kubernetes/base/rbac.yaml
(tests/policies/reconciler/test_least_privilege.py fails until it is).

An object's identity in egressui is its kind *key*, namespace and name. The key is the kind name,
except where two API groups use one name: the ambient waypoint is a Gateway API `Gateway`, Istio's
egress gateway routing is a `networking.istio.io` `Gateway`, so the waypoint's key names its group.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True
    key: str = ""  # identity in egressui (inventory, object keys): the kind, or "Kind.group" when shared
    api_version: str = field(init=False)  # "group/version", or "version" for the core group

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_version", f"{self.group}/{self.version}" if self.group else self.version)
        if not self.key:
            object.__setattr__(self, "key", self.kind)


# The ambient egress waypoint (reference §7); Gateway API CRDs are installed apart from Istio's.
WAYPOINT_GATEWAY = KindInfo(
    "Gateway", "gateway.networking.k8s.io", "v1", "gateways", key="Gateway.gateway.networking.k8s.io"
)
SERVICE_ENTRY = KindInfo("ServiceEntry", "networking.istio.io", "v1", "serviceentries")
DESTINATION_RULE = KindInfo("DestinationRule", "networking.istio.io", "v1", "destinationrules")
GATEWAY = KindInfo("Gateway", "networking.istio.io", "v1", "gateways")
AUTHORIZATION_POLICY = KindInfo("AuthorizationPolicy", "security.istio.io", "v1", "authorizationpolicies")
VIRTUAL_SERVICE = KindInfo("VirtualService", "networking.istio.io", "v1", "virtualservices")
SIDECAR = KindInfo("Sidecar", "networking.istio.io", "v1", "sidecars")
NETWORK_POLICY = KindInfo("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies")
TELEMETRY = KindInfo("Telemetry", "telemetry.istio.io", "v1", "telemetries")
CILIUM_NETWORK_POLICY = KindInfo("CiliumNetworkPolicy", "cilium.io", "v2", "ciliumnetworkpolicies")

# Apply order: what a route points at exists before the route; the VirtualService that switches
# traffic to the gateway comes after its Gateway, subsets and policy. Delete in reverse.
ISTIO_KINDS: tuple[KindInfo, ...] = (
    SERVICE_ENTRY,
    DESTINATION_RULE,
    GATEWAY,
    AUTHORIZATION_POLICY,
    VIRTUAL_SERVICE,
    SIDECAR,
    NETWORK_POLICY,
    TELEMETRY,
)
# istio-ambient: the waypoint first (ServiceEntries bound to it are useless until it exists), then
# the sidecar mode's kinds that ambient shares.
AMBIENT_KINDS: tuple[KindInfo, ...] = (
    WAYPOINT_GATEWAY,
    SERVICE_ENTRY,
    DESTINATION_RULE,
    AUTHORIZATION_POLICY,
    NETWORK_POLICY,
    TELEMETRY,
)
CILIUM_KINDS: tuple[KindInfo, ...] = (CILIUM_NETWORK_POLICY,)
# Every kind egressui renders in any mode, in apply order: what the deploy ClusterRole grants.
KINDS: tuple[KindInfo, ...] = (WAYPOINT_GATEWAY, *ISTIO_KINDS, *CILIUM_KINDS)
# What a cluster of each enforcement mode is rendered into and listed for: a Cilium cluster serves
# no Istio kinds, an Istio cluster need not have Cilium's CRDs, a sidecar one no Gateway API.
MODE_KINDS: dict[str, tuple[KindInfo, ...]] = {
    "istio": ISTIO_KINDS,
    "istio-ambient": AMBIENT_KINDS,
    "cilium": CILIUM_KINDS,
}
KIND_BY_NAME: dict[str, KindInfo] = {info.key: info for info in KINDS}  # by kind key
APPLY_ORDER: dict[str, int] = {info.key: index for index, info in enumerate(KINDS)}
_KEY_BY_API: dict[tuple[str, str], str] = {(info.api_version, info.kind): info.key for info in KINDS}


def kinds_for_mode(mode: str) -> tuple[KindInfo, ...]:
    """The kinds a cluster in `mode` is rendered into (and listed for), in apply order."""
    return MODE_KINDS.get(mode, KINDS)


def kind_key(obj: dict) -> str:
    """The kind key of an object (see the module docstring); its plain kind when it is not ours."""
    kind = obj.get("kind", "")
    return _KEY_BY_API.get((obj.get("apiVersion", ""), kind), kind)
