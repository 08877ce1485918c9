"""What the gateway did with a connection, from the fields Envoy logs (reference §8.1).

Order matters: a policy denial also ends the connection early, and an unregistered destination
also fails upstream, so the more specific cause is checked first.

- denied by policy: an RBAC denial in `connection_termination_details` (TCP) or
  `response_code_details` (HTTP), ext-authz's `UAEX` flag, or HTTP 403 unless Envoy says the 403
  came from the upstream (`via_upstream`): our own log format carries no response details, and a
  403 at the egress gateway is almost always its AuthorizationPolicy;
- no route / not registered: `NR` (no route or filter chain), `NC` (no cluster), or the sidecar
  catch-all clusters `BlackHoleCluster` (REGISTRY_ONLY) and `PassthroughCluster` (ALLOW_ANY, which
  bypasses the gateway);
- upstream failure: connect failure, no healthy host, overflow, retries exhausted, timeouts, DNS
  failure, TLS failure towards the upstream;
- allowed: everything else.
"""

from policies.choices import AccessVerdict

ALLOWED = str(AccessVerdict.ALLOWED.value)
DENIED = str(AccessVerdict.DENIED.value)
NO_ROUTE = str(AccessVerdict.NO_ROUTE.value)
UPSTREAM_FAILURE = str(AccessVerdict.UPSTREAM_FAILURE.value)

RBAC_MARKER = "rbac_access_denied"
# Short flags as in %RESPONSE_FLAGS%, long ones as in %RESPONSE_FLAGS_LONG%.
DENIED_FLAGS = frozenset({"UAEX", "UnauthorizedExternalService"})
NO_ROUTE_FLAGS = frozenset({"NR", "NC", "NoRouteFound", "NoClusterFound"})
NO_ROUTE_CLUSTERS = frozenset({"BlackHoleCluster", "PassthroughCluster"})
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
    `catch_all_cluster` is the upstream cluster if it is one of NO_ROUTE_CLUSTERS, else empty (so
    the many ordinary cluster names do not spoil the parser's cache of verdicts)."""
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
    if catch_all_cluster:
        return NO_ROUTE, catch_all_cluster
    if flag_set & FAILURE_FLAGS:
        return UPSTREAM_FAILURE, f"{flags} {transport_failure}".strip()
    if transport_failure:
        return UPSTREAM_FAILURE, transport_failure
    return ALLOWED, ""
