"""Enforcement mode `cilium`: one CiliumNetworkPolicy per app namespace, no mesh (docs/rendering.md).

The object, `egressui-egress` in each app namespace (listed, or with grants), holds a list of rules
(`specs`):

1. every pod of the namespace: DNS to kube-dns through Cilium's DNS proxy (`rules.dns` allowing every
   lookup: `toFQDNs` opens only the addresses the proxy saw in answers, and Hubble names a flow's
   destination only from them); when enforced with `in_cluster_egress: allow`, also every endpoint
   of the cluster (`toEntities: [cluster]`) and the in-cluster CIDRs;
2. per granted service account, its pods (`io.cilium.k8s.policy.serviceaccount`): one egress entry per
   port and destination form, `toFQDNs` (names) or `toCIDRSet` (tcp), with `toPorts`. A grant adds a
   selector to one entry and nothing else.

Enforced: every rule sets `enableDefaultDeny.egress: true`, so only the above leaves, grants or not
(fail-closed). Observed: every rule sets it false: nothing is denied, but lookups still go through
the DNS proxy, so Hubble flows carry the names a namespace would need grants for.

`http-originate` has no Cilium equivalent (nothing in the path originates TLS) and is reported as
unrenderable; plaintext `http` is allowed by name like `tls`, with the caveats of docs/rendering.md.
"""

import ipaddress
import re
from dataclasses import dataclass, field

from policies.manifests.draft import Draft, grant_labels
from policies.manifests.inputs import ENFORCE, IN_CLUSTER_ALLOW, ClusterSettings, GrantSpec, RenderInput, Unrenderable
from policies.manifests.kinds import CILIUM_NETWORK_POLICY
from policies.manifests.plan import (
    PROTO_ORIGINATE,
    PROTO_TCP,
    PROTOCOLS,
    effective_grants,
    is_fqdn,
    listed_namespaces,
    unrenderable_for,
)

POLICY_NAME = "egressui-egress"
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
POD_NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
# `**.` (one or more labels) in matchPattern came with Cilium 1.19 (cilium/cilium#43420); before it
# `*` matches within one label only.
MULTI_LABEL_PATTERN_SINCE = (1, 19)
MATCH_NAME, MATCH_PATTERN = "matchName", "matchPattern"
FQDNS, CIDRS = "toFQDNs", "toCIDRSet"

ORIGINATE_REASON = (
    "Cilium cannot originate TLS: the app's plain HTTP would leave the cluster as it is. Ask for tls "
    "(the app speaks HTTPS itself) on this cluster, or use a cluster in an Istio mode."
)

_VERSION = re.compile(r"^(\d+)\.(\d+)")


def cilium_version(cluster: ClusterSettings) -> tuple[int, int]:
    """The cluster's Cilium version as (major, minor); unreadable → (1, 0), the narrowest patterns."""
    match = _VERSION.match(cluster.cilium_version or "")
    return (int(match[1]), int(match[2])) if match else (1, 0)


@dataclass(slots=True)
class _Namespace:
    name: str
    enforcement: str = ENFORCE
    grants: dict[int, str] = field(default_factory=dict)  # rendered grants: id → label
    # service account → (port, FQDNS | CIDRS) → selectors: (matchName|matchPattern, value) or ("cidr", cidr)
    accounts: dict[str, dict[tuple[int, str], set[tuple[str, str]]]] = field(default_factory=dict)


def _destination(grant: GrantSpec, multi_label: bool) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    """(FQDNS or CIDRS, selectors, problems as (host, reason)) for one grant."""
    if grant.protocol not in PROTOCOLS:
        return FQDNS, [], [(grant.host, f"Unknown protocol {grant.protocol!r}.")]
    if not 1 <= grant.port <= 65535:
        return FQDNS, [], [(grant.host, f"Port {grant.port} is outside 1–65535.")]
    if grant.protocol == PROTO_ORIGINATE:
        return FQDNS, [], [(grant.host, ORIGINATE_REASON)]
    if grant.protocol == PROTO_TCP:
        try:
            network = ipaddress.ip_network(grant.host, strict=False)
        except ValueError:
            reason = f"{grant.host} is not an IP address or CIDR range; tcp destinations are addressed by IP."
            return CIDRS, [], [(grant.host, reason)]
        return CIDRS, [("cidr", str(network))], []
    if grant.tcp_direct:
        return FQDNS, [], [(grant.host, "Direct access (tcp_direct) exists only for tcp destinations.")]
    host = grant.host
    if not host.startswith("*."):
        if not is_fqdn(host):
            return FQDNS, [], [(host, f"{host} is not a fully qualified host name.")]
        return FQDNS, [(MATCH_NAME, host)], []
    suffix = host[2:]
    if not is_fqdn(suffix):
        return FQDNS, [], [(host, f"{host} is not a valid wildcard host.")]
    if multi_label:
        return FQDNS, [(MATCH_PATTERN, f"**.{suffix}")], []
    # Before 1.19 `*.` matches one label; deeper names the request listed are allowed by name.
    selectors, problems = [(MATCH_PATTERN, host)], []
    for concrete in grant.expanded_hosts:
        if not is_fqdn(concrete) or not concrete.endswith(host[1:]):
            problems.append((concrete, f"{concrete} is not a concrete host under {host}."))
        elif concrete[: -len(suffix) - 1].count(".") > 0:
            selectors.append((MATCH_NAME, concrete))
    return FQDNS, selectors, problems


def _plan(data: RenderInput) -> tuple[dict[str, _Namespace], list[Unrenderable]]:
    cluster = data.cluster
    multi_label = cilium_version(cluster) >= MULTI_LABEL_PATTERN_SINCE
    system = cluster.system_namespaces
    namespaces = {name: _Namespace(name, plan.enforcement) for name, plan in listed_namespaces(data).items()}
    unrenderable: list[Unrenderable] = []
    # Thousands of grants share far fewer destinations: work each one out once.
    destinations: dict[tuple, tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = {}
    for grant in effective_grants(data):
        if grant.namespace in system:
            reason = (
                f"{grant.namespace} is a system namespace (DNS, Cilium); its workloads cannot be given egress grants."
            )
            unrenderable.append(unrenderable_for(grant, grant.host, reason))
            continue
        key = (grant.host, grant.protocol, grant.port, grant.tcp_direct, grant.expanded_hosts)
        destination = destinations.get(key)
        if destination is None:
            destination = destinations[key] = _destination(grant, multi_label)
        form, selectors, problems = destination
        unrenderable.extend(unrenderable_for(grant, host, reason) for host, reason in problems)
        namespace = namespaces.get(grant.namespace)
        if namespace is None:  # grants in an unlisted namespace: enforced (fail-closed)
            namespace = namespaces[grant.namespace] = _Namespace(grant.namespace)
        if not selectors:
            continue
        namespace.grants[grant.id] = grant.label
        entries = namespace.accounts.setdefault(grant.service_account, {})
        entries.setdefault((grant.port, form), set()).update(selectors)
    return namespaces, unrenderable


def _dns_rule(cluster: ClusterSettings) -> dict:
    """Lookups to kube-dns through the DNS proxy, every name allowed (the proxy must see them all)."""
    selector = {POD_NAMESPACE_LABEL: cluster.dns_namespace}
    selector.update((f"k8s:{key}", value) for key, value in sorted(cluster.dns_selector))
    return {
        "toEndpoints": [{"matchLabels": selector}],
        "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{MATCH_PATTERN: "*"}]}}],
    }


def _entry(form: str, port: int, selectors: set[tuple[str, str]]) -> dict:
    if form == CIDRS:
        peers = [{"cidr": value} for _, value in sorted(selectors)]
    else:
        peers = [{key: value} for key, value in sorted(selectors)]
    return {form: peers, "toPorts": [{"ports": [{"port": str(port), "protocol": "TCP"}]}]}


def _policy(cluster: ClusterSettings, namespace: _Namespace) -> Draft:
    enforced = namespace.enforcement == ENFORCE
    default_deny = {"egress": enforced}
    egress = [_dns_rule(cluster)]
    if enforced and cluster.in_cluster_egress == IN_CLUSTER_ALLOW:
        egress.append({"toEntities": ["cluster"]})
        if cluster.in_cluster_cidrs:
            egress.append({CIDRS: [{"cidr": cidr} for cidr in cluster.in_cluster_cidrs]})
    if not enforced:
        what = "DNS through Cilium's DNS proxy; observed, nothing is denied"
    elif len(egress) > 1:
        what = "DNS through Cilium's DNS proxy and in-cluster traffic; nothing else leaves"
    else:
        what = "DNS through Cilium's DNS proxy; nothing else leaves"
    rules = [
        {
            "description": f"egressui: every pod of {namespace.name}: {what}",
            "endpointSelector": {},
            "enableDefaultDeny": dict(default_deny),
            "egress": egress,
        }
    ]
    for account, entries in sorted(namespace.accounts.items()):
        rules.append(
            {
                "description": f"egressui: grants of service account {account}",
                "endpointSelector": {"matchLabels": {SERVICE_ACCOUNT_LABEL: account}},
                "enableDefaultDeny": dict(default_deny),
                "egress": [_entry(form, port, selectors) for (port, form), selectors in sorted(entries.items())],
            }
        )
    return Draft(CILIUM_NETWORK_POLICY, namespace.name, POLICY_NAME, rules, grant_labels(namespace.grants), "specs")


def cilium_drafts(data: RenderInput) -> tuple[list[Draft], list[Unrenderable]]:
    namespaces, unrenderable = _plan(data)
    drafts = [_policy(data.cluster, namespace) for namespace in namespaces.values()]
    return drafts, unrenderable
