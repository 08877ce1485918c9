"""Access-log ingestion end to end: 200,000 gateway lines posted over HTTP into PostgreSQL; one JSON line.

    .venv/bin/python bench/ingest.py [--lines 200000] [--batch 5000] [--clients 2] [--workers 2] [--format hubble]

A throwaway PostgreSQL database (`egressui_bench_ingest` on the server of BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432) is created, migrated and seeded with one cluster, 50 namespaces
× 4 service accounts and 2,000 grants (10 hosts per identity), then served by gunicorn with the
production settings and `deploy/gunicorn.conf.py`. The lines are generated beforehand (not timed):
egressui's JSON format and Istio's default one, in time order over the last three hours — 85% allowed to
granted hosts, 7% denied by RBAC, 4% no route, 2% upstream failures, 2% from principals nobody
knows — gzip-compressed into batches as Fluent Bit's HTTP output would post them. `--clients`
threads post the batches with the cluster's ingest token, like a log shipper with that many
workers. The clock runs from the first post to the last answer; then the stored sums are checked
against what was sent (`verified`). The database is dropped at the end.

`--format hubble` posts Hubble exporter lines instead (a cluster in mode cilium): egress policy
verdicts, 86% forwarded to granted hosts, 7% dropped, 7% forwarded to hosts nobody granted.
"""

import argparse
import gzip
import json
import os
import queue
import random
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench._setup import free_port, recreate_database, stop, timed_run  # noqa: E402
from bench.api import run_django, server_env, start_gunicorn  # noqa: E402

DATABASE_NAME = "egressui_bench_ingest"
NAMESPACES, ACCOUNTS, HOSTS_PER_IDENTITY = 50, 4, 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000, help="lines per POST")
    parser.add_argument("--clients", type=int, default=2, help="concurrent posting threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--format", choices=["envoy", "hubble"], default="envoy", help="what the shipper posts")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)  # internal: the child process
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)  # internal: the child process
    return parser.parse_args()


def grant_host(namespace: int, account: int, index: int) -> str:
    return f"api{index}.svc{(namespace * ACCOUNTS + account) % 97}.example.com"


def seed(mode: str = "istio") -> dict:
    """Runs in a child process with the server's settings."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from policies.models import Cluster, ClusterSyncState, EgressRequest, Grant, Namespace, Team, WorkloadIdentity
    from policies.services.ingest_tokens import cluster_ingest_token_rotate

    now = timezone.now()
    with transaction.atomic():
        cluster = Cluster.objects.create(
            name="prod-eu", environment="prod", directory_path="/nonexistent", enforcement_mode=mode
        )
        ClusterSyncState.objects.create(cluster=cluster, needs_reconcile=False)
        team = Team.objects.create(slug="bench", name="Bench")
        requester = get_user_model().objects.create(username="bench-dev")
        request = EgressRequest.objects.create(
            team=team, requester=requester, status="approved", justification="Bench.", duration_days=30
        )
        destination = request.destinations.create(host="api0.example.com", port=443)
        grants = []
        for n in range(NAMESPACES):
            namespace = Namespace.objects.create(cluster=cluster, name=f"ns{n}", team=team)
            for a in range(ACCOUNTS):
                identity = WorkloadIdentity.objects.create(namespace=namespace, service_account=f"sa{a}")
                for h in range(HOSTS_PER_IDENTITY):
                    grants.append(
                        Grant(
                            request=request,
                            destination=destination,
                            identity=identity,
                            cluster=cluster,
                            team=team,
                            host=grant_host(n, a, h),
                            port=443,
                            protocol="tls",
                            valid_from=now - timedelta(days=1),
                            expires_at=now + timedelta(days=30),
                        )
                    )
        Grant.objects.bulk_create(grants, batch_size=2000)
    return {"cluster": cluster.pk, "token": cluster_ingest_token_rotate(cluster=cluster, actor=None)}


def check() -> dict:
    import django

    django.setup()
    from django.db.models import Count, Sum

    from policies.models import AccessRecord, ClusterIngestState

    totals = AccessRecord.objects.aggregate(lines=Sum("count"), rows=Count("pk"), attributed=Count("grant"))
    state = ClusterIngestState.objects.get()
    return {**totals, "accepted": state.lines_accepted, "rejected": state.lines_rejected}


def generate(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    lines = []
    for _ in range(count):
        n, a = rng.randrange(NAMESPACES), rng.randrange(ACCOUNTS)
        moment = now - timedelta(seconds=rng.uniform(0, 3 * 3600))
        principal = f"spiffe://cluster.local/ns/ns{n}/sa/sa{a}"
        host = grant_host(n, a, rng.randrange(HOSTS_PER_IDENTITY))
        draw = rng.random()
        flags, termination, code, upstream = "-", None, 0, f"outbound|443||{host}"
        if draw < 0.07:
            termination = "rbac_access_denied_matched_policy[none]"
            host = f"other{rng.randrange(50)}.example.net"
        elif draw < 0.11:
            flags, upstream, host = "NR", None, f"unknown{rng.randrange(200)}.example.org"
        elif draw < 0.13:
            flags = "UF,URX"
        elif draw < 0.15:
            principal = f"spiffe://cluster.local/ns/stray{rng.randrange(20)}/sa/default"
        sent, received = rng.randrange(200, 200_000), rng.randrange(200, 20_000)
        if rng.random() < 0.02:  # Istio's default JSON format, with the peer SAN added
            lines.append(
                {
                    "start_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "method": None,
                    "path": None,
                    "protocol": None,
                    "response_code": code,
                    "response_flags": flags,
                    "response_code_details": None,
                    "connection_termination_details": termination,
                    "upstream_transport_failure_reason": None,
                    "bytes_received": received,
                    "bytes_sent": sent,
                    "duration": rng.randrange(1, 5000),
                    "upstream_cluster": upstream,
                    "downstream_remote_address": f"10.1.{n}.{a + 10}:{rng.randrange(30000, 60000)}",
                    "requested_server_name": host,
                    "downstream_peer_uri_san": principal,
                }
            )
            continue
        lines.append(
            {
                "start_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "sni": host,
                "source_principal": principal,
                "source_workload": f"sa{a}",
                "source_namespace": f"ns{n}",
                "downstream_remote_address": f"10.1.{n}.{a + 10}:{rng.randrange(30000, 60000)}",
                "upstream_host": "203.0.113.10:443" if upstream else None,
                "upstream_cluster": upstream,
                "response_flags": flags,
                "response_code": code,
                "connection_termination_details": termination,
                "bytes_sent": sent,
                "bytes_received": received,
                "duration_ms": rng.randrange(1, 5000),
                "authority": None,
            }
        )
    # A gateway writes its log in time order, and a shipper posts it in that order.
    lines.sort(key=lambda line: line["start_time"])
    return lines


def generate_hubble(count: int, seed: int = 7) -> list[dict]:
    from policies.accesslog.hubble import flow_record

    rng = random.Random(seed)
    now = datetime.now(UTC)
    lines = []
    for _ in range(count):
        n, a = rng.randrange(NAMESPACES), rng.randrange(ACCOUNTS)
        moment = (now - timedelta(seconds=rng.uniform(0, 3 * 3600))).isoformat().replace("+00:00", "Z")
        host, verdict, draw = grant_host(n, a, rng.randrange(HOSTS_PER_IDENTITY)), "FORWARDED", rng.random()
        if draw < 0.07:
            verdict, host = "DROPPED", f"other{rng.randrange(50)}.example.net"
        elif draw < 0.14:
            host = f"unknown{rng.randrange(200)}.example.org"
        address = f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        lines.append(
            flow_record(f"ns{n}", f"sa{a}", verdict=verdict, names=(host,), address=address, port=443, time=moment)
        )
    lines.sort(key=lambda line: line["time"])  # the agent writes its file in time order
    return lines


def bodies(lines: list[dict], batch: int) -> list[bytes]:
    return [
        gzip.compress("\n".join(json.dumps(line) for line in lines[start : start + batch]).encode(), compresslevel=6)
        for start in range(0, len(lines), batch)
    ]


def server_pids(master: int, database_url: str) -> tuple[list[int], list[int]]:
    """The gunicorn workers (children of `master`) and the PostgreSQL backends of the bench database."""
    return procstat.children(master), procstat.postgres_backends(database_url)


def post_all(url: str, token: str, payloads: list[bytes], clients: int) -> tuple[float, int, int]:
    import requests

    work: queue.Queue = queue.Queue()
    for payload in payloads:
        work.put(payload)
    accepted, rejected, errors = [], [], []
    barrier = threading.Barrier(clients + 1)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }

    def worker() -> None:
        with requests.Session() as session:
            barrier.wait()
            while True:
                try:
                    payload = work.get_nowait()
                except queue.Empty:
                    return
                response = session.post(url, data=payload, headers=headers, timeout=300)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:300]}")
                    return
                body = response.json()
                accepted.append(body["accepted"])
                rejected.append(body["rejected"])

    elapsed = timed_run([threading.Thread(target=worker) for _ in range(clients)], barrier.wait)
    if errors:
        raise SystemExit(f"a post failed: {errors[0]}")
    return elapsed, sum(accepted), sum(rejected)


def main() -> None:
    args = parse_args()
    if args.seed:
        print(json.dumps(seed("cilium" if args.format == "hubble" else "istio")))
        return
    if args.check:
        print(json.dumps(check()))
        return
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database_url = urlunsplit(urlsplit(base)._replace(path=f"/{DATABASE_NAME}"))
    port = free_port()
    recreate_database(database_url)
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="egressui-bench-ingest-") as tmp:
            env = server_env(database_url, None, Path(tmp), port, args.workers)
            env["EGRESSUI_INGEST_THROTTLE_RATE"] = "1000000/min"  # measure ingestion, not the rate limiter
            run_django(env, "manage.py", "migrate", "--noinput")
            seeded = json.loads(run_django(env, "bench/ingest.py", "--seed", "--format", args.format).splitlines()[-1])
            lines = generate_hubble(args.lines) if args.format == "hubble" else generate(args.lines)
            payloads = bodies(lines, args.batch)
            server = start_gunicorn(env, Path(tmp) / "gunicorn.log", port)
            url = f"http://127.0.0.1:{port}/api/v1/clusters/{seeded['cluster']}/access-logs/"
            workers, backends = server_pids(server.pid, database_url)
            cpu_before = {pid: procstat.cpu_seconds([pid]) for pid in workers + backends}
            load_before = os.getloadavg()[0]
            seconds, accepted, rejected = post_all(url, seeded["token"], payloads, args.clients)
            load_after = os.getloadavg()[0]
            workers, backends = server_pids(server.pid, database_url)
            cpu = {pid: procstat.cpu_seconds([pid]) - cpu_before.get(pid, 0.0) for pid in workers + backends}
            stored = json.loads(run_django(env, "bench/ingest.py", "--check").splitlines()[-1])
    finally:
        if server is not None:
            stop(server)
        recreate_database(database_url, drop_only=True)
    result = {
        "format": args.format,
        "lines": args.lines,
        "seconds": round(seconds, 2),
        "lines_per_s": round(args.lines / seconds),
        "batches": len(payloads),
        "batch_lines": args.batch,
        "gzip_kib_per_batch": round(sum(map(len, payloads)) / len(payloads) / 1024, 1),
        "clients": args.clients,
        "workers": args.workers,
        "accepted": accepted,
        "rejected": rejected,
        "rows": stored["rows"],
        "attributed_rows": stored["attributed"],
        "verified": stored["lines"] == accepted == stored["accepted"] == args.lines and rejected == 0,
        # CPU spent per line by the web workers (HTTP, gzip, parsing, aggregation) and by PostgreSQL:
        # unlike lines_per_s, hardly affected by other work on the machine (see load_avg_1m).
        "web_cpu_us_per_line": round(sum(cpu[pid] for pid in workers) / args.lines * 1e6, 1),
        "postgres_cpu_us_per_line": round(sum(cpu[pid] for pid in backends) / args.lines * 1e6, 1),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 1), round(load_after, 1)],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
