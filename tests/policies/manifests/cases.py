"""Plain inputs for renderer tests: a fixed clock, a grant builder, and named cases covering every
protocol, wildcards and many namespaces (used by golden files, validation and properties)."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.manifests import ClusterSettings, GrantSpec, NamespaceSpec, RenderInput, RenderResult, render_cluster

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WIKIPEDIA = (("*.wikipedia.org", "www.wikipedia.org"),)


def grant(grant_id: int, namespace: str, account: str, host: str, port: int = 443, protocol: str = "tls", **extra):
    return GrantSpec(grant_id, namespace, account, host, port, protocol, **extra)


def cluster(**overrides) -> ClusterSettings:
    return ClusterSettings(name=overrides.pop("name", "prod-eu"), **overrides)


def render(grants, *, now: datetime = NOW, namespaces=(), **cluster_overrides) -> RenderResult:
    """`namespaces`: NamespaceSpecs, or (name, enforcement) pairs."""
    specs = tuple(spec if isinstance(spec, NamespaceSpec) else NamespaceSpec(*spec) for spec in namespaces)
    return render_cluster(
        RenderInput(cluster=cluster(**cluster_overrides), grants=tuple(grants), now=now, namespaces=specs)
    )


def assert_golden(path: Path, text: str) -> None:
    """`text` equals the golden file at `path` (rewritten first with EGRESSUI_UPDATE_GOLDEN=1)."""
    if os.environ.get("EGRESSUI_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; generate it with EGRESSUI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def find(result: RenderResult, kind: str, name: str, namespace: str = "istio-egress") -> dict:
    for obj in result.objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and meta["namespace"] == namespace:
            return obj
    raise AssertionError(
        f"no {kind} {namespace}/{name} in {[(o['kind'], o['metadata']['name']) for o in result.objects]}"
    )


def kinds(result: RenderResult, kind: str) -> list[dict]:
    return [obj for obj in result.objects if obj["kind"] == kind]


IN_CLUSTER_CIDRS = ("10.96.0.1/32", "169.254.20.10/32")  # the API server's Service IP, node-local DNS

# Golden cases: name → (grants, render arguments: cluster overrides and `namespaces`). Each is small
# enough to read in a review. Namespaces not listed are enforced (the renderer fails closed).
CASES: dict[str, tuple[list[GrantSpec], dict]] = {
    # The three kinds of app namespace, with the default in_cluster_egress (allow) and two CIDRs.
    "namespace_enforced_with_grants": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {"namespaces": [("payments", "enforce")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "namespace_enforced_without_grants": (
        [],
        {"namespaces": [("ledger", "enforce")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "namespace_observed": (
        [grant(1, "reports", "exporter", "api.stripe.com")],
        {"namespaces": [("reports", "observe"), ("sandbox", "observe")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "in_cluster_restrict": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {"namespaces": [("payments", "enforce"), ("reports", "observe")], "in_cluster_egress": "restrict"},
    ),
    "origination_credential_name": (
        [grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")],
        {"origination_credential_name": "egress-ca-bundle"},
    ),
    "tls": ([grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "api.stripe.com")], {}),
    "http_originate": ([grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")], {}),
    "tls_and_originate_same_host": (
        [
            grant(1, "payments", "checkout", "api.example.com", 443, "tls"),
            grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
        ],
        {},
    ),
    "http": ([grant(1, "payments", "checkout", "plain.example.com", 80, "http")], {}),
    "tcp": ([grant(1, "payments", "refunds", "203.0.113.0/29", 5432, "tcp")], {}),
    "tcp_direct": ([grant(1, "payments", "refunds", "198.51.100.7", 6379, "tcp", tcp_direct=True)], {}),
    "wildcard_serving_host": (
        [grant(1, "search", "indexer", "*.wikipedia.org")],
        {"wildcard_serving_hosts": WIKIPEDIA},
    ),
    "wildcard_expanded": (
        [grant(1, "search", "indexer", "*.example.org", expanded_hosts=("a.example.org", "b.example.org"))],
        {},
    ),
    "legacy_chart_no_sidecars_no_telemetry": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {
            "gateway_pod_https_port": 8443,
            "gateway_pod_http_port": 8080,
            "manage_sidecars": False,
            "access_log_provider": "",
            "source_access_log_provider": "",
            "trust_domain": "corp.example",
        },
    ),
}


def broad_grants(namespaces: int = 12) -> list[GrantSpec]:
    """Every protocol, wildcards of both kinds, a conflict, an unrenderable wildcard, ineffective
    grants, and many namespaces sharing hosts."""
    grants: list[GrantSpec] = []
    next_id = iter(range(1, 10_000))
    for index in range(namespaces):
        namespace = f"team-{index:02d}"
        grants += [
            grant(next(next_id), namespace, "app", "api.stripe.com"),
            grant(next(next_id), namespace, "worker", f"svc{index % 3}.example.com", 8443),
            grant(next(next_id), namespace, "app", "legacy.example.com", 443, "http-originate"),
            grant(next(next_id), namespace, "app", f"plain{index % 2}.example.net", 8080, "http"),
            grant(next(next_id), namespace, "db", f"10.20.{index}.0/29", 5432, "tcp"),
            grant(next(next_id), namespace, "db", "192.0.2.10", 1521, "tcp"),
            grant(next(next_id), namespace, "app", "*.wikipedia.org"),
            grant(next(next_id), namespace, "app", "*.example.io", expanded_hosts=("a.example.io", "b.example.io")),
        ]
        if index % 4 == 0:
            grants.append(grant(next(next_id), namespace, "db", f"198.51.100.{index}", 6379, "tcp", tcp_direct=True))
    grants += [
        grant(next(next_id), "team-00", "app", "api.example.com", 443, "tls"),
        grant(next(next_id), "team-01", "app", "api.example.com", 443, "http-originate"),
        grant(next(next_id), "team-02", "app", "2001:db8:1::/124", 22, "tcp"),
        grant(next(next_id), "team-02", "app", "a-very-long-subdomain-name-that-goes-on.and-on.example-company.com"),
        grant(next(next_id), "team-03", "app", "*.nowhere.example"),  # unrenderable: neither form
        grant(next(next_id), "team-03", "app", "api.stripe.com", 8443, "tls"),  # conflict: second TLS port
        grant(next(next_id), "team-04", "app", "gone.example.com", status="revoked"),
        grant(next(next_id), "team-04", "app", "old.example.com", expires_at=NOW - timedelta(seconds=1)),
        grant(next(next_id), "team-04", "app", "later.example.com", valid_from=NOW + timedelta(days=1)),
    ]
    return grants


BROAD_CLUSTER = {"wildcard_serving_hosts": WIKIPEDIA}

# Mode cilium, same form (the cluster is in enforcement mode cilium); golden files in golden/cilium/.
CILIUM_CASES: dict[str, tuple[list[GrantSpec], dict]] = {
    "namespace_enforced_with_grants": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {"namespaces": [("payments", "enforce")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "namespace_enforced_without_grants": ([], {"namespaces": [("ledger", "enforce")]}),
    "namespace_observed": (
        [grant(1, "reports", "exporter", "api.stripe.com")],
        {"namespaces": [("reports", "observe"), ("sandbox", "observe")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "in_cluster_restrict": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {"namespaces": [("payments", "enforce")], "in_cluster_egress": "restrict"},
    ),
    "tls": (
        [
            grant(1, "payments", "checkout", "api.stripe.com"),
            grant(2, "payments", "checkout", "hooks.stripe.com"),
            grant(3, "payments", "checkout", "api.stripe.com", 8443),
            grant(4, "search", "indexer", "api.stripe.com"),
        ],
        {},
    ),
    "http": ([grant(1, "payments", "checkout", "plain.example.com", 80, "http")], {}),
    "tcp": (
        [
            grant(1, "payments", "refunds", "203.0.113.0/29", 5432, "tcp"),
            grant(2, "payments", "refunds", "198.51.100.7", 5432, "tcp", tcp_direct=True),
            grant(3, "payments", "refunds", "10.20.0.0/16", 6379, "tcp"),
        ],
        {},
    ),
    "wildcard": ([grant(1, "payments", "checkout", "*.github.com")], {}),
    "wildcard_before_1_19": (
        [grant(1, "payments", "checkout", "*.github.com", expanded_hosts=("api.github.com", "a.b.github.com"))],
        {"cilium_version": "1.18"},
    ),
}


# --- istio-ambient ---------------------------------------------------------------------------------

AMBIENT = {"mode": "istio-ambient", "istio_version": "1.30"}

# Golden cases of the ambient renderer: one per protocol, the namespace states, the waypoint run by
# the platform elsewhere, and the wildcard forms (DYNAMIC_DNS per version, expanded).
AMBIENT_CASES: dict[str, tuple[list[GrantSpec], dict]] = {
    "tls": (
        [grant(1, "payments", "checkout", "api.stripe.com"), grant(2, "search", "indexer", "api.stripe.com")],
        {"namespaces": [("payments", "enforce"), ("search", "observe")]},
    ),
    "http_originate": (
        [grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")],
        {"namespaces": [("payments", "enforce")]},
    ),
    "origination_credential_name": (
        [grant(1, "payments", "checkout", "legacy.example.com", 443, "http-originate")],
        {"origination_credential_name": "egress-ca-bundle"},
    ),
    "tls_and_originate_same_host": (
        [
            grant(1, "payments", "checkout", "api.example.com", 443, "tls"),
            grant(2, "search", "indexer", "api.example.com", 443, "http-originate"),
        ],
        {},
    ),
    "http": ([grant(1, "payments", "checkout", "plain.example.com", 80, "http")], {}),
    "tcp": ([grant(1, "payments", "refunds", "203.0.113.0/29", 5432, "tcp")], {}),
    "tcp_direct": ([grant(1, "payments", "refunds", "198.51.100.0/28", 6379, "tcp", tcp_direct=True)], {}),
    "wildcard_dynamic_dns": (
        [
            grant(1, "search", "indexer", "*.wikipedia.org"),
            grant(2, "search", "indexer", "*.example.net", 443, "http-originate"),
        ],
        {},
    ),
    "wildcard_expanded": (
        [grant(1, "search", "indexer", "*.example.org", expanded_hosts=("a.example.org", "b.example.org"))],
        {"istio_version": "1.24"},
    ),
    "namespace_enforced_without_grants": (
        [],
        {"namespaces": [("ledger", "enforce")], "in_cluster_cidrs": IN_CLUSTER_CIDRS},
    ),
    "in_cluster_restrict": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {"namespaces": [("payments", "enforce"), ("reports", "observe")], "in_cluster_egress": "restrict"},
    ),
    "platform_waypoint": (
        [grant(1, "payments", "checkout", "api.stripe.com")],
        {
            "waypoint_managed_by_platform": True,
            "waypoint_name": "shared-egress",
            "waypoint_namespace": "mesh-egress",
            "access_log_provider": "",
        },
    ),
}


def render_ambient(grants, **overrides) -> RenderResult:
    return render(grants, **{**AMBIENT, **overrides})
