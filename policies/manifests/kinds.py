"""The kinds the renderer emits, in make-before-break apply order (reference §1.3).

The reconciler lists a cluster's mode's kinds (`kinds_for_mode`), applies in this order and deletes
in reverse order. A new kind is added here and granted in deploy/kubernetes/base/rbac.yaml
(tests/policies/reconciler/test_least_privilege.py fails until it is).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True
    api_version: str = field(init=False)  # "group/version", or "version" for the core group

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_version", f"{self.group}/{self.version}" if self.group else self.version)


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
CILIUM_KINDS: tuple[KindInfo, ...] = (CILIUM_NETWORK_POLICY,)
# Every kind egressui renders in any mode: what the deploy ClusterRole grants.
KINDS: tuple[KindInfo, ...] = (*ISTIO_KINDS, *CILIUM_KINDS)
# What a cluster of each enforcement mode is rendered into and listed for: a Cilium cluster serves
# no Istio kinds, an Istio cluster need not have Cilium's CRDs.
MODE_KINDS: dict[str, tuple[KindInfo, ...]] = {"istio": ISTIO_KINDS, "cilium": CILIUM_KINDS}
KIND_BY_NAME: dict[str, KindInfo] = {info.kind: info for info in KINDS}
APPLY_ORDER: dict[str, int] = {info.kind: index for index, info in enumerate(KINDS)}


def kinds_for_mode(mode: str) -> tuple[KindInfo, ...]:
    """The kinds a cluster in `mode` is rendered into (and listed for), in apply order."""
    return MODE_KINDS.get(mode, KINDS)
