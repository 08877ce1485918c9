"""Access-log lines for the demo data (`seed_demo`): the demo workloads using their grants and being
refused elsewhere, in egressui's log format, between `start` and `end`."""

import random
from datetime import datetime

# (namespace, service account, host, what the gateway logged, how many lines)
DEMO_TRAFFIC = (
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


def demo_access_log(*, trust_domain: str, start: datetime, end: datetime, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    lines = []
    for namespace, account, host, logged, count in DEMO_TRAFFIC:
        for _ in range(count):
            lines.append(
                {
                    "start_time": (start + (end - start) * rng.random()).isoformat() if span > 0 else start.isoformat(),
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
    lines.sort(key=lambda line: line["start_time"])
    return lines
