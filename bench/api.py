"""REST API latency under load: 10,000 requests in PostgreSQL, gunicorn, 8 concurrent clients; one JSON line.

    .venv/bin/python bench/api.py [--clients 8] [--workers 4] [--rounds 12] [--requests 10000]

A throwaway PostgreSQL database (`egressui_bench_api` on the server of BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432) is created, migrated and seeded with 10,000 egress requests of
10 teams (1–2 identities and destinations each, a third of them waiting for approval), then served
by gunicorn with the production settings and `deploy/gunicorn.conf.py`, with Redis database 4 as
cache and broker (BENCH_REDIS_URL) when it answers. Measured from the clients, after a warm-up:

- `list_*`: `GET /api/v1/requests/?page_size=100` as a platform admin (every request visible, so
  each page is counted over all 10,000) and as an approver of one team (`list_approver_*`);
- `create_submit_*`: `POST /api/v1/requests/` with `"submit": true` (validation, approval rules,
  steps, audit events, notification queued), by members of the teams.

Each client makes `--rounds` calls per measurement; p50/p95 are over all calls of all clients.
`*_server_cpu_ms` is the CPU time gunicorn's workers spent per call (from /proc; the one figure
that other load on the machine hardly changes), `*_db_cpu_ms` that of the PostgreSQL backends
serving them (null when PostgreSQL is on another machine) and `*_client_cpu_ms` that of this
process's client threads: on a 2-core machine the three share the cores. The database is analysed
after seeding, as one in service would be. `one_client_*` repeats both with a single client
(the latency of a call without queueing behind the others), and `load_average_1m` is the
machine's load at the end, for context. The database is
dropped at the end, and Redis database 4 flushed.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench._setup import clean_environ, free_port, latency_ms, recreate_database, start_server, stop  # noqa: E402

DATABASE_NAME = "egressui_bench_api"
# A fixed, valid Fernet key for this throwaway database only.
ENCRYPTION_KEY = "YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS1lZ3Jlc3M="
TEAMS = 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=12, help="calls per client per measurement")
    parser.add_argument("--requests", type=int, default=10_000, help="egress requests in the database")
    parser.add_argument("--seed", type=int, metavar="N", help=argparse.SUPPRESS)  # internal: the child process
    return parser.parse_args()


def server_env(database_url: str, redis_url: str | None, var_dir: Path, port: int, workers: int) -> dict:
    env = clean_environ()
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="egressui.settings",
        DJANGO_SECRET_KEY="bench-only-secret-key",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        EGRESSUI_HTTPS="false",
        EGRESSUI_ENCRYPTION_KEY=ENCRYPTION_KEY,
        EGRESSUI_VAR_DIR=str(var_dir),
        EGRESSUI_API_THROTTLE_RATE="1000000/min",  # measure the API, not the rate limiter
        DATABASE_URL=database_url,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        PYTHONPATH=str(ROOT),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except Exception:
        return False


def seed(total: int) -> dict:
    """Runs in a child process with the server's settings: the rows, and a token per user."""
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from policies.choices import RequestStatus, StepStatus, TeamRole
    from policies.models import (
        ApprovalStep,
        Cluster,
        ClusterSyncState,
        EgressRequest,
        Namespace,
        RequestDestination,
        Team,
        TeamMembership,
        WorkloadIdentity,
    )
    from policies.services.tokens import api_token_create

    rng = random.Random(7)
    users = get_user_model().objects
    with transaction.atomic():
        admin = users.create(username="bench-admin", is_superuser=True, is_staff=True)
        cluster = Cluster.objects.create(name="prod-eu", environment="prod", directory_path="/nonexistent")
        ClusterSyncState.objects.create(cluster=cluster, needs_reconcile=False)
        teams, members, approvers, identities = [], [], [], {}
        for t in range(TEAMS):
            team = Team.objects.create(slug=f"team{t}", name=f"Team {t}")
            member, approver = users.create(username=f"dev{t}"), users.create(username=f"lead{t}")
            TeamMembership.objects.create(team=team, user=member, role=TeamRole.MEMBER)
            TeamMembership.objects.create(team=team, user=approver, role=TeamRole.APPROVER)
            teams.append(team)
            members.append(member)
            approvers.append(approver)
            for n in range(5):
                namespace = Namespace.objects.create(cluster=cluster, name=f"t{t}-ns{n}", team=team)
                identities.setdefault(t, []).extend(
                    WorkloadIdentity.objects.create(namespace=namespace, service_account=f"sa{a}") for a in range(4)
                )
        now = timezone.now()
        cycle = [RequestStatus.SUBMITTED, RequestStatus.APPROVED, RequestStatus.DRAFT]
        rows = []
        for i in range(total):
            status = cycle[i % 3] if i % 17 else RequestStatus.CANCELLED
            submitted = None if status == RequestStatus.DRAFT else now - timedelta(minutes=i)
            rows.append(
                EgressRequest(
                    team=teams[i % TEAMS],
                    requester=members[i % TEAMS],
                    status=status,
                    justification=f"Bench request {i}.",
                    duration_days=30 + i % 60,
                    round=0 if submitted is None else 1,
                    submitted_at=submitted,
                )
            )
        rows = EgressRequest.objects.bulk_create(rows, batch_size=2000)
        through = EgressRequest.identities.through
        links, destinations, steps = [], [], []
        for i, request in enumerate(rows):
            for identity in rng.sample(identities[i % TEAMS], 1 + i % 2):
                links.append(through(egressrequest_id=request.pk, workloadidentity_id=identity.pk))
            for d in range(1 + i % 2):
                destinations.append(RequestDestination(request=request, host=f"api{i}-{d}.example.com", port=443))
            if request.round:
                pending = request.status == RequestStatus.SUBMITTED
                steps.append(
                    ApprovalStep(
                        request=request,
                        round=1,
                        position=1,
                        name="Approver of the requesting team",
                        team=teams[i % TEAMS],
                        status=StepStatus.PENDING if pending else StepStatus.APPROVED,
                    )
                )
        through.objects.bulk_create(links, batch_size=5000)
        RequestDestination.objects.bulk_create(destinations, batch_size=5000)
        ApprovalStep.objects.bulk_create(steps, batch_size=5000)
    analyze_tables()
    return {
        "requests": EgressRequest.objects.count(),
        "admin": api_token_create(user=admin, actor=None, name="bench")[1],
        "approver": api_token_create(user=approvers[0], actor=None, name="bench")[1],
        "members": [api_token_create(user=member, actor=None, name="bench")[1] for member in members],
        "identities": [[str(identity) for identity in identities[t]] for t in range(TEAMS)],
    }


def analyze_tables() -> None:
    """Planner statistics for the seeded rows, as a database in service has them. Without them, until
    autovacuum gets round to it, PostgreSQL plans for the empty tables it last saw (a page of the
    list then sorts all 10,000 rows instead of reading an index)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def run_django(env: dict, *args: str) -> str:
    command = [sys.executable, *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_gunicorn(env: dict, log_path: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "egressui.wsgi:application"]
    return start_server(command, name="gunicorn", env=env, port=port, log_path=log_path)


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time used so far by gunicorn's worker processes."""
    return procstat.cpu_seconds(procstat.children(server.pid))


def database_cpu_seconds(database_url: str) -> float | None:
    """CPU time used so far by the PostgreSQL backends serving the bench database (gunicorn keeps its
    connections): None when the server is not on this machine. A backend that closes during a
    measurement (connections live DJANGO_DB_CONN_MAX_AGE, 60 s) takes its share along."""
    pids = procstat.postgres_backends(database_url)
    if pids and not any(Path(f"/proc/{pid}").exists() for pid in pids):
        return None
    return procstat.cpu_seconds(pids)


def measure(clients: int, rounds: int, call, server: subprocess.Popen | None = None, database_url: str = "") -> dict:
    """Run `call(client_index, session)` rounds times in each of `clients` threads; latencies in ms,
    and with `server` the CPU per call of gunicorn, of PostgreSQL and of this process (the clients)."""
    import requests

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(index: int) -> None:
        with requests.Session() as session:
            barrier.wait()
            for _ in range(rounds):
                started = time.perf_counter()
                problem = call(index, session)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    measured = server is not None
    cpu_before = cpu_seconds(server, database_url) if measured else None
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(server, database_url) if measured else None
    if errors:
        raise SystemExit(f"{len(errors)} calls failed, first: {errors[0]}")
    result = {**latency_ms(latencies), "per_s": round(len(latencies) / wall, 1)}
    if measured:
        for name, before in cpu_before.items():
            spent = None if before is None else cpu_after[name] - before
            result[f"{name}_cpu_ms"] = None if spent is None else round(spent * 1000 / len(latencies), 1)
    return result


def cpu_seconds(server: subprocess.Popen, database_url: str) -> dict:
    return {
        "server": server_cpu_seconds(server),
        "db": database_cpu_seconds(database_url),
        "client": time.process_time(),  # this process: the client threads
    }


def main() -> None:
    args = parse_args()
    if args.seed is not None:
        print(json.dumps(seed(args.seed)))
        return
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database_url = urlunsplit(urlsplit(base)._replace(path=f"/{DATABASE_NAME}"))
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
    redis_url = redis_url if redis_answers(redis_url) else None
    port = free_port()
    recreate_database(database_url)
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="egressui-bench-api-") as tmp:
            env = server_env(database_url, redis_url, Path(tmp), port, args.workers)
            run_django(env, "manage.py", "migrate", "--noinput")
            seeded = json.loads(run_django(env, "bench/api.py", "--seed", str(args.requests)).splitlines()[-1])
            server = start_gunicorn(env, Path(tmp) / "gunicorn.log", port)
            api = f"http://127.0.0.1:{port}/api/v1"

            def lister(token: str):
                def call(index, session):
                    response = session.get(
                        f"{api}/requests/",
                        params={"page_size": 100, "page": 1 + random.randrange(10)},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=60,
                    )
                    if response.status_code != 200 or len(response.json()["results"]) != 100:
                        return f"list: {response.status_code} {response.text[:300]}"
                    return None

                return call

            counter = iter(range(10**9))

            def creator(index, session):
                team = index % TEAMS
                number = next(counter)
                body = {
                    "team": f"team{team}",
                    "identities": [seeded["identities"][team][number % 20]],
                    "destinations": [{"host": f"bench{number}.example.org", "port": 443}],
                    "justification": "Benchmark.",
                    "submit": True,
                }
                response = session.post(
                    f"{api}/requests/",
                    json=body,
                    headers={"Authorization": f"Bearer {seeded['members'][team]}"},
                    timeout=60,
                )
                if response.status_code != 201 or response.json()["status"] != "submitted":
                    return f"create: {response.status_code} {response.text[:300]}"
                return None

            measure(args.clients, 3, lister(seeded["admin"]))  # warm-up: connections, imports, caches
            measure(args.clients, 2, creator)
            listed = measure(args.clients, args.rounds, lister(seeded["admin"]), server, database_url)
            listed_member = measure(args.clients, args.rounds, lister(seeded["approver"]), server, database_url)
            created = measure(args.clients, args.rounds, creator, server, database_url)
            alone = {  # the same calls from a single client: the cost of one call without queueing
                "list": measure(1, args.rounds, lister(seeded["admin"])),
                "create_submit": measure(1, args.rounds, creator),
            }
    finally:
        if server is not None:
            stop(server)
        recreate_database(database_url, drop_only=True)
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url).flushdb()
    print(
        json.dumps(
            {
                "bench": "api",
                "requests_in_db": seeded["requests"],
                "clients": args.clients,
                "gunicorn_workers": args.workers,
                "calls_per_measurement": args.clients * args.rounds,
                "redis": bool(redis_url),
                "list_p50_ms": listed["p50_ms"],
                "list_p95_ms": listed["p95_ms"],
                "list_per_s": listed["per_s"],
                "list_server_cpu_ms": listed["server_cpu_ms"],
                "list_db_cpu_ms": listed["db_cpu_ms"],
                "list_client_cpu_ms": listed["client_cpu_ms"],
                "list_approver_p50_ms": listed_member["p50_ms"],
                "list_approver_p95_ms": listed_member["p95_ms"],
                "list_approver_server_cpu_ms": listed_member["server_cpu_ms"],
                "list_approver_db_cpu_ms": listed_member["db_cpu_ms"],
                "create_submit_p50_ms": created["p50_ms"],
                "create_submit_p95_ms": created["p95_ms"],
                "create_submit_per_s": created["per_s"],
                "create_submit_server_cpu_ms": created["server_cpu_ms"],
                "create_submit_db_cpu_ms": created["db_cpu_ms"],
                "create_submit_client_cpu_ms": created["client_cpu_ms"],
                "one_client_list_p50_ms": alone["list"]["p50_ms"],
                "one_client_create_submit_p50_ms": alone["create_submit"]["p50_ms"],
                "load_average_1m": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
