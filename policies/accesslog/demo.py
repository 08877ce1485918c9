"""Access-log lines for the demo data (`seed_demo`): the demo workloads using their grants and being
refused at the gateway (egressui's gateway format), and the sidecars of the observed and enforced
demo namespaces logging their catch-all connections (egressui's source format), between `start`
and `end`; and Hubble flows of the Cilium demo cluster (`demo_hubble_flows`)."""

import random
from datetime import datetime, timedelta
from typing import Any

from policies.accesslog.hubble import flow_record

# (namespace, service account, host, what the gateway logged, how many lines)
DEMO_TRAFFIC: tuple[tuple[str, str, str, dict[str, Any], int], ...] = (
    ("payments", "checkout", "api.stripe.com", {}, 40),
    ("payments", "refunds", "api.stripe.com", {}, 12),
    ("payments", "checkout", "api.stripe.com", {"response_flags": "UF,URX"}, 2),
    ("search", "indexer", "pypi.org", {}, 25),
    (
        "payments",
        "checkout",
        "api.adyen.com",
        {"connection_termination_details": "rbac_access_denied_matched_policy[none]"},
        3,
    ),
    ("payments", "refunds", "hooks.slack.com", {"response_flags": "NR", "upstream_cluster": None}, 2),
    (
        "search",
        "indexer",
        "pastebin.com",
        {"connection_termination_details": "rbac_access_denied_matched_policy[none]"},
        4,
    ),
)


# Logged by the sidecars at their catch-all: (namespace, service account, catch-all cluster, SNI,
# HTTP authority, original destination, how many lines). `reports` is observed: its workloads reach
# hosts nobody granted, and these lines are what enforcing it would block. `ledger` is enforced
# without a grant: its attempt was refused in the pod and never reached the gateway.
DEMO_SOURCE_TRAFFIC = (
    ("reports", "exporter", "PassthroughCluster", "api.openexchangerates.org", "", "198.51.100.21:443", 18),
    ("reports", "exporter", "PassthroughCluster", "reports-bucket.s3.eu-west-1.amazonaws.com", "", "52.218.1.9:443", 9),
    ("reports", "exporter", "PassthroughCluster", "", "feeds.example.org", "198.51.100.30:80", 4),
    ("reports", "scheduler", "PassthroughCluster", "", "", "203.0.113.40:5432", 3),
    ("ledger", "ledger", "BlackHoleCluster", "api.exchangerate.host", "", "198.51.100.44:443", 2),
)


def demo_access_log(*, trust_domain: str, start: datetime, end: datetime, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    span = (end - start).total_seconds()

    def moment() -> str:
        return (start + (end - start) * rng.random()).isoformat() if span > 0 else start.isoformat()

    lines: list[dict[str, Any]] = []
    for namespace, account, host, logged, count in DEMO_TRAFFIC:
        for _ in range(count):
            lines.append(
                {
                    "start_time": moment(),
                    "sni": host,
                    "source_principal": f"spiffe://{trust_domain}/ns/{namespace}/sa/{account}",
                    "source_workload": account,
                    "source_namespace": namespace,
                    "upstream_cluster": f"outbound|443||{host}",
                    "response_flags": "-",
                    "response_code": 0,
                    "bytes_sent": rng.randrange(2_000, 60_000),
                    "bytes_received": rng.randrange(500, 5_000),
                    **logged,
                }
            )
    for namespace, account, catch_all, sni, authority, original, count in DEMO_SOURCE_TRAFFIC:
        for _ in range(count):
            line = source_record(
                namespace, account, catch_all=catch_all, sni=sni, authority=authority, original=original, start=moment()
            )
            line["bytes_received"] = rng.randrange(200, 2_000)
            if catch_all == "PassthroughCluster":
                line["bytes_sent"] = rng.randrange(800, 40_000)
            lines.append(line)
    lines.sort(key=lambda line: line["start_time"])
    return lines


def source_record(
    namespace: str, account: str, *, catch_all: str, sni: str, authority: str, original: str, start: str
) -> dict:
    """One line of egressui's source provider (docs/monitoring.md §1): a sidecar of `namespace`,
    running as `account`, reached its catch-all `catch_all` for `original` (the address dialled)."""
    blocked = catch_all == "BlackHoleCluster"
    return {
        "start_time": start,
        "source_namespace": namespace,
        "source_service_account": account,
        "upstream_cluster": catch_all,
        "sni": sni or None,
        "authority": authority or None,
        "downstream_local_address": original,
        "response_flags": "UH" if blocked else "-",
        "bytes_sent": 0,
        "bytes_received": 517,
    }


# The ambient demo cluster (`demo-ambient`): the waypoint's lines for the payments grants, and
# ztunnel's lines for connections that went past the mesh — (service account, destination address,
# ztunnel error, how many lines). The error-free one passed through; the timed-out one was dropped
# by the enforced namespace's NetworkPolicy.
DEMO_AMBIENT_WAYPOINT: tuple[tuple[str, str, str, dict[str, Any], int], ...] = (
    ("checkout", "api.stripe.com", "inbound-vip|443|tcp|api.stripe.com", {}, 30),
    ("refunds", "api.stripe.com", "inbound-vip|443|tcp|api.stripe.com", {}, 6),
    (
        "refunds",
        "api.adyen.com",
        "inbound-vip|443|tcp|api.adyen.com",
        {"connection_termination_details": "rbac_access_denied_matched_policy[none]"},
        2,
    ),
)
DEMO_AMBIENT_ZTUNNEL = (
    ("checkout", "198.51.100.61:443", "io error: deadline has elapsed", 3),
    ("refunds", "203.0.113.70:5432", "io error: deadline has elapsed", 2),
)


def demo_ambient_access_log(*, trust_domain: str, start: datetime, end: datetime, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)

    def moment() -> str:
        return (start + (end - start) * rng.random()).isoformat()

    lines: list[dict[str, Any]] = []
    for account, host, upstream, logged, count in DEMO_AMBIENT_WAYPOINT:
        principal = f"spiffe://{trust_domain}/ns/payments/sa/{account}"
        for _ in range(count):
            lines.append(
                {
                    "start_time": moment(),
                    "sni": host,
                    "source_principal": principal,
                    "upstream_cluster": upstream,
                    "response_flags": "-",
                    "bytes_sent": rng.randrange(2_000, 60_000),
                    "bytes_received": rng.randrange(500, 5_000),
                    **logged,
                }
            )
    for account, address, error, count in DEMO_AMBIENT_ZTUNNEL:
        for _ in range(count):
            lines.append(
                {
                    "time": moment(),
                    "scope": "access",
                    "message": "connection complete",
                    "src.identity": f"spiffe://{trust_domain}/ns/payments/sa/{account}",
                    "dst.addr": address,
                    "direction": "outbound",
                    "error": error,
                    "bytes_sent": 0,
                    "bytes_recv": 0,
                    "duration": "10000ms",
                }
            )
    lines.sort(key=lambda line: line.get("start_time") or line["time"])
    return lines


# Hubble policy verdicts on demo-cilium: (namespace, service account, verdict, names, address, port,
# how many). `storefront` is enforced: its grant is used, pastebin is dropped on the node. `analytics`
# is observed: nothing is dropped, and its ungranted destinations are what enforcing would block.
DEMO_HUBBLE_TRAFFIC = (
    ("storefront", "web", "FORWARDED", ("api.stripe.com",), "198.51.100.50", 443, 30),
    ("storefront", "web", "FORWARDED", ("api.github.com",), "198.51.100.51", 443, 8),
    ("storefront", "web", "DROPPED", ("pastebin.com",), "198.51.100.52", 443, 3),
    ("storefront", "web", "DROPPED", (), "203.0.113.77", 6379, 2),
    ("analytics", "etl", "FORWARDED", ("api.openexchangerates.org",), "198.51.100.53", 443, 12),
    ("analytics", "etl", "FORWARDED", ("feeds.example.org",), "198.51.100.54", 80, 4),
)


def demo_hubble_flows(*, start: datetime, end: datetime, seed: int = 11) -> list[dict]:
    """Exporter lines (`hubble.flow_record`) for the Cilium demo cluster: forwarded flows between
    `start` (when the grants began) and `end`, drops two to three hours before `start` (the attempts
    that led to the request)."""
    rng = random.Random(seed)
    lines: list[dict[str, Any]] = []
    for namespace, account, verdict, names, address, port, count in DEMO_HUBBLE_TRAFFIC:
        first, last = (start - timedelta(hours=3), start - timedelta(hours=2)) if verdict == "DROPPED" else (start, end)
        for _ in range(count):
            moment = (first + (last - first) * rng.random()).isoformat().replace("+00:00", "Z")
            lines.append(
                flow_record(namespace, account, verdict=verdict, names=names, address=address, port=port, time=moment)
            )
    lines.sort(key=lambda line: line["time"])
    return lines
