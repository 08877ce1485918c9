"""What happened to a connection, from the fields Envoy logs (reference §8.1, §6.1).

Order matters: a connection that reached a sidecar's catch-all is that whatever else went wrong;
a policy denial also ends the connection early, and an unregistered destination also fails
upstream, so the more specific cause is checked first.

- logged by the source sidecar, at its catch-all (reference §6.1): `BlackHoleCluster` or the
  `block_all` route (REGISTRY_ONLY: blocked at source, it never reached the gateway);
  `PassthroughCluster` or the `allow_any` route (ALLOW_ANY: observed, it left without the gateway);
- denied by policy: an RBAC denial in `connection_termination_details` (TCP) or
  `response_code_details` (HTTP), ext-authz's `UAEX` flag, or HTTP 403 unless Envoy says the 403
  came from the upstream (`via_upstream`): our own log format carries no response details, and a
  403 at the egress gateway is almost always its AuthorizationPolicy;
- no route / not registered: `NR` (no route or filter chain), `NC` (no cluster);
- upstream failure: connect failure, no healthy host, overflow, retries exhausted, timeouts, DNS
  failure, TLS failure towards the upstream;
- allowed: everything else.
"""

from policies.choices import AccessVerdict

ALLOWED = str(AccessVerdict.ALLOWED.value)
DENIED = str(AccessVerdict.DENIED.value)
NO_ROUTE = str(AccessVerdict.NO_ROUTE.value)
UPSTREAM_FAILURE = str(AccessVerdict.UPSTREAM_FAILURE.value)
OBSERVED = str(AccessVerdict.OBSERVED.value)
BLOCKED_AT_SOURCE = str(AccessVerdict.BLOCKED_AT_SOURCE.value)

RBAC_MARKER = "rbac_access_denied"
# Short flags as in %RESPONSE_FLAGS%, long ones as in %RESPONSE_FLAGS_LONG%.
DENIED_FLAGS = frozenset({"UAEX", "UnauthorizedExternalService"})
NO_ROUTE_FLAGS = frozenset({"NR", "NC", "NoRouteFound", "NoClusterFound"})
# A sidecar's catch-alls, by upstream cluster or (HTTP on a port with a listener) by route name:
# REGISTRY_ONLY answers from `block_all` with a 502 and no cluster, ALLOW_ANY routes `allow_any` to
# PassthroughCluster (istio.io blog "Monitoring blocked and passthrough external service traffic").
CATCH_ALLS = {
    "BlackHoleCluster": BLOCKED_AT_SOURCE,
    "block_all": BLOCKED_AT_SOURCE,
    "PassthroughCluster": OBSERVED,
    "allow_any": OBSERVED,
}
FAILURE_FLAGS = frozenset(
    {
        "UF",
        "UH",
        "UO",
        "URX",
        "UT",
        "LH",
        "DF",
        "UPE",
        "UMSDR",
        "UpstreamConnectionFailure",
        "NoHealthyUpstream",
        "UpstreamOverflow",
        "UpstreamRetryLimitExceeded",
        "UpstreamRequestTimeout",
        "FailedLocalHealthCheck",
        "DnsResolutionFailed",
        "UpstreamProtocolError",
        "UpstreamMaxStreamDurationReached",
    }
)


def classify(
    flags: str,
    response_code: int,
    code_details: str,
    termination: str,
    catch_all_cluster: str,
    transport_failure: str,
) -> tuple[str, str]:
    """(verdict, detail): the detail is what explains a verdict other than allowed, for people.
    `catch_all_cluster` is the catch-all (a key of CATCH_ALLS) the connection reached, else empty (so
    the many ordinary cluster names do not spoil the parser's cache of verdicts)."""
    if catch_all_cluster:
        return CATCH_ALLS[catch_all_cluster], catch_all_cluster
    if RBAC_MARKER in termination:
        return DENIED, termination
    if RBAC_MARKER in code_details:
        return DENIED, code_details
    flag_set = frozenset(flags.split(",")) if flags else frozenset()
    if flag_set & DENIED_FLAGS:
        return DENIED, flags
    if response_code == 403 and not code_details.startswith("via_upstream"):
        return DENIED, f"403 {code_details}".strip()
    if flag_set & NO_ROUTE_FLAGS:
        return NO_ROUTE, flags
    if flag_set & FAILURE_FLAGS:
        return UPSTREAM_FAILURE, f"{flags} {transport_failure}".strip()
    if transport_failure:
        return UPSTREAM_FAILURE, transport_failure
    return ALLOWED, ""
