"""Latency of the busiest UI pages: the approvals inbox, the grants list and the audit log, with
10,000 requests, 20,000 grants and their audit events in PostgreSQL, served by gunicorn (the
production configuration in deploy/gunicorn.conf.py) to 8 concurrent signed-in clients.

    .venv/bin/python bench/web.py [--reuse]
    .venv/bin/python bench/web.py --demo [CHECKOUT]

`--demo` measures instead what a newcomer's `make run` serves: every page of the navigation, one
client, on `seed_demo`'s data (runserver, debug on, SQLite in a temporary directory), served from
this checkout or from CHECKOUT (another clone, to compare before and after in the same run).

The database named by EGRESSUI_BENCH_DATABASE_URL (default: egressui_bench_web on 127.0.0.1) is
dropped and created again, so its name must contain "bench"; DATABASE_URL is deliberately ignored.
`--reuse` measures again on the data a previous run left. Prints one JSON
line: p50/p95 per page (target: p95 under 150 ms), and the CPU time gunicorn and PostgreSQL spent per
page load, which does not depend on what else the machine is running.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench._setup import (  # noqa: E402
    clean_environ,
    free_port,
    latency_ms,
    manage,
    recreate_database,
    start_server,
    stop,
    timed_run,
)

REQUESTS = 10_000
GRANTS = 20_000
TEAMS = 20
CLUSTERS = 4
CLIENTS = 8
ROUNDS = 30  # requests per client per page, after warm-up
PASSWORD = "bench-web-password-1"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/egressui_bench_web"


def environment(database_url: str, static_root: str) -> dict:
    from cryptography.fernet import Fernet

    env = clean_environ()
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        DJANGO_SETTINGS_MODULE="egressui.settings",
        DJANGO_SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        EGRESSUI_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        EGRESSUI_HTTPS="false",
        DJANGO_STATIC_ROOT=static_root,
        EGRESSUI_LOG_FORMAT="json",
        DJANGO_LOG_LEVEL="WARNING",
        # Keep each worker's connection for the whole run, so the backends measured are the ones serving.
        DJANGO_DB_CONN_MAX_AGE="600",
    )
    return env


def populate() -> dict:
    """Write the data set with bulk inserts (the services would take minutes for 10,000 requests).
    The audit events are real chain links, so the audit page and its filters see realistic rows."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from policies.audit_chain import GENESIS_HASH, compute_hash
    from policies.choices import (
        AppliedState,
        AuditEventType,
        Environment,
        GrantStatus,
        Protocol,
        RequestStatus,
        StepStatus,
        TeamRole,
    )
    from policies.models import (
        ApprovalStep,
        AuditChainHead,
        AuditEvent,
        Cluster,
        ClusterSyncState,
        EgressRequest,
        Grant,
        Namespace,
        RequestDestination,
        Team,
        TeamMembership,
        WorkloadIdentity,
    )

    rng = random.Random(7)
    User = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        User.objects.create_superuser("bench-admin", "admin@example.com", PASSWORD)
        teams = Team.objects.bulk_create(Team(slug=f"team{n:02d}", name=f"Team {n:02d}") for n in range(TEAMS))
        users = User.objects.bulk_create(
            User(username=f"dev{n:02d}", email=f"dev{n:02d}@example.com") for n in range(TEAMS)
        )
        approvers = User.objects.bulk_create(User(username=f"lead{n:02d}") for n in range(TEAMS))
        security = User.objects.create(username="secops")
        for user in [*users, *approvers, security]:
            user.set_password(PASSWORD)
        User.objects.bulk_update([*users, *approvers, security], ["password"])
        security_team = Team.objects.create(slug="security", name="Security")
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=t, user=u, role=TeamRole.MEMBER) for t, u in zip(teams, users, strict=True)]
            + [TeamMembership(team=t, user=u, role=TeamRole.APPROVER) for t, u in zip(teams, approvers, strict=True)]
            + [TeamMembership(team=security_team, user=security, role=TeamRole.APPROVER)]
        )
        clusters = Cluster.objects.bulk_create(
            Cluster(
                name=f"cluster{n}",
                environment=Environment.PROD if n % 2 == 0 else Environment.NON_PROD,
                directory_path=f"/tmp/bench/{n}",
            )
            for n in range(CLUSTERS)
        )
        ClusterSyncState.objects.bulk_create(ClusterSyncState(cluster=c, needs_reconcile=False) for c in clusters)
        namespaces = Namespace.objects.bulk_create(
            Namespace(cluster=c, name=f"{t.slug}-ns", team=t) for t in teams for c in clusters
        )
        identities = WorkloadIdentity.objects.bulk_create(
            WorkloadIdentity(namespace=ns, service_account=f"sa{k}") for ns in namespaces for k in range(5)
        )
        namespace_by_id = {ns.pk: ns for ns in namespaces}
        by_team: dict[int, list] = {}
        for identity in identities:
            by_team.setdefault(namespace_by_id[identity.namespace_id].team_id, []).append(identity)

        # 10,000 requests: 70 % approved (they carry the grants), 15 % pending approval, the rest
        # drafts, rejected, cancelled or sent back.
        statuses = (
            [RequestStatus.APPROVED] * 70
            + [RequestStatus.SUBMITTED] * 15
            + [RequestStatus.DRAFT] * 5
            + [RequestStatus.REJECTED] * 4
            + [RequestStatus.CANCELLED] * 3
            + [RequestStatus.CHANGES_REQUESTED] * 3
        )
        requests = []
        for n in range(REQUESTS):
            team = teams[n % TEAMS]
            status = statuses[n % len(statuses)]
            created = now - timedelta(minutes=REQUESTS - n)
            requests.append(
                EgressRequest(
                    team=team,
                    requester=users[n % TEAMS],
                    status=status,
                    justification=f"Integration {n} needs this partner API.",
                    duration_days=rng.choice([30, 90, 200]),
                    round=0 if status == RequestStatus.DRAFT else 1,
                    submitted_at=None if status == RequestStatus.DRAFT else created,
                    decided_at=created if status in (RequestStatus.APPROVED, RequestStatus.REJECTED) else None,
                )
            )
        requests = EgressRequest.objects.bulk_create(requests, batch_size=2000)
        destinations, links, steps = [], [], []
        request_identities: dict[int, list] = {}
        for n, request in enumerate(requests):
            protocol = rng.choice([Protocol.TLS] * 8 + [Protocol.HTTP_ORIGINATE, Protocol.HTTP])
            host = f"api{n}.partner{n % 300}.example.com" if n % 25 else f"*.partner{n}.example.com"
            destinations.append(
                RequestDestination(
                    request=request,
                    host=host,
                    port=80 if protocol == Protocol.HTTP else 443,
                    protocol=protocol,
                    expanded_hosts=[host.replace("*", "api")] if host.startswith("*.") else [],
                )
            )
            chosen = rng.sample(by_team[request.team_id], 3)
            request_identities[request.pk] = chosen
            links += [EgressRequest.identities.through(egressrequest=request, workloadidentity=i) for i in chosen]
            if request.status == RequestStatus.SUBMITTED:
                steps.append(
                    ApprovalStep(
                        request=request,
                        round=1,
                        position=1,
                        name="Team approver",
                        team_id=request.team_id,
                        status=StepStatus.PENDING,
                    )
                )
                steps.append(
                    ApprovalStep(
                        request=request,
                        round=1,
                        position=2,
                        name="Security review",
                        team=security_team,
                        status=StepStatus.WAITING,
                    )
                )
        destinations = RequestDestination.objects.bulk_create(destinations, batch_size=2000)
        EgressRequest.identities.through.objects.bulk_create(links, batch_size=5000)
        ApprovalStep.objects.bulk_create(steps, batch_size=2000)

        grants = []
        approved = [(r, d) for r, d in zip(requests, destinations, strict=True) if r.status == RequestStatus.APPROVED]
        for request, destination in approved:
            for identity in request_identities[request.pk]:
                if len(grants) == GRANTS:  # 7,000 approved requests × 3 identities, capped
                    break
                expires = now + timedelta(days=rng.randint(-30, 200))
                status = GrantStatus.ACTIVE if expires > now else GrantStatus.EXPIRED
                grants.append(
                    Grant(
                        request=request,
                        destination=destination,
                        identity=identity,
                        cluster_id=namespace_by_id[identity.namespace_id].cluster_id,
                        team_id=request.team_id,
                        host=destination.host,
                        port=destination.port,
                        protocol=destination.protocol,
                        status=status,
                        valid_from=now - timedelta(days=60),
                        expires_at=expires,
                        applied_state=AppliedState.APPLIED if status == GrantStatus.ACTIVE else AppliedState.REMOVED,
                    )
                )
        Grant.objects.bulk_create(grants, batch_size=2000)

        events, previous, seq = [], GENESIS_HASH, 0
        chain_types = {
            RequestStatus.APPROVED: [
                AuditEventType.REQUEST_CREATED,
                AuditEventType.REQUEST_SUBMITTED,
                AuditEventType.STEP_DECISION,
                AuditEventType.REQUEST_APPROVED,
                AuditEventType.GRANT_CREATED,
            ],
            RequestStatus.SUBMITTED: [AuditEventType.REQUEST_CREATED, AuditEventType.REQUEST_SUBMITTED],
            RequestStatus.DRAFT: [AuditEventType.REQUEST_CREATED],
        }
        for request in requests:
            for event_type in chain_types.get(
                request.status,
                [AuditEventType.REQUEST_CREATED, AuditEventType.REQUEST_SUBMITTED, AuditEventType.REQUEST_REJECTED],
            ):
                seq += 1
                event = AuditEvent(
                    seq=seq,
                    event_type=int(event_type),
                    occurred_at=now - timedelta(seconds=REQUESTS * 5 - seq),
                    actor_id=request.requester_id,
                    actor_repr=f"dev{request.team_id % TEAMS:02d}",
                    subject_type="egressrequest",
                    subject_id=str(request.pk),
                    subject_repr=f"request #{request.pk}",
                    egress_request_id=request.pk,
                    after={"status": request.status},
                    prev_hash=previous,
                )
                event.hash = compute_hash(event)
                previous = event.hash
                events.append(event)
        AuditEvent.objects.bulk_create(events, batch_size=5000)
        AuditChainHead.objects.update_or_create(pk=1, defaults={"last_seq": seq, "last_hash": previous})
    # The tables as autovacuum leaves them on a live system: fresh statistics, and the visibility map
    # set (PostgreSQL 13+ vacuums after bulk inserts too), without which index-only scans must visit
    # the heap and the planner prefers scanning whole tables (e.g. to count a team's audit events).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return counts()


def counts() -> dict:
    import django

    django.setup()
    from policies.choices import RequestStatus
    from policies.models import AuditEvent, EgressRequest, Grant

    return {
        "requests": EgressRequest.objects.count(),
        "grants": Grant.objects.count(),
        "audit_events": AuditEvent.objects.count(),
        "pending": EgressRequest.objects.filter(status=RequestStatus.SUBMITTED).count(),
    }


def log(message: str) -> None:
    print(f"[bench/web] {message}", file=sys.stderr, flush=True)


def signed_in_session(base_url: str, username: str, password: str = PASSWORD):
    import requests

    session = requests.Session()
    session.get(base_url + "/login/", timeout=30)
    response = session.post(
        base_url + "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": base_url + "/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {username}: HTTP {response.status_code}")
    return session


# Who loads which page: platform admins see everything (the largest counts), team members their team.
PAGES = {
    "inbox": ("/approvals/", ["bench-admin", "lead03", "secops"]),
    "grants": ("/grants/", ["bench-admin", "dev05", "lead07"]),
    "audit": ("/audit/", ["bench-admin", "dev09", "secops"]),
}


def server_pids(master: int, database_url: str) -> tuple[list[int], list[int]]:
    """gunicorn's workers, and the PostgreSQL backends serving them."""
    return procstat.children(master), procstat.postgres_backends(database_url)


def measure(base_url: str, on_warm) -> tuple[dict, float]:
    """8 client threads: sign in, warm up, then (after `on_warm()` ran once) load each page ROUNDS times.
    Returns the latency summary per page and the page loads per second."""
    results: dict[str, list[float]] = {page: [] for page in PAGES}
    warm, go = threading.Barrier(CLIENTS + 1), threading.Barrier(CLIENTS + 1)
    errors: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        sessions = {}
        for page, (_, users) in PAGES.items():
            username = users[index % len(users)]
            sessions[page] = sessions.get(username) or signed_in_session(base_url, username)
        for page, (path, _) in PAGES.items():  # warm-up: worker imports, template caches, connections
            sessions[page].get(base_url + path, timeout=30)
        warm.wait()
        go.wait()
        for round_ in range(ROUNDS):
            for page, (path, _) in PAGES.items():
                url = base_url + path + (f"?page={1 + round_ % 3}" if round_ % 5 == 4 else "")
                started = time.perf_counter()
                response = sessions[page].get(url, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code != 200:
                        errors.append(f"{path}: HTTP {response.status_code}")
                    results[page].append(elapsed)

    def ready() -> None:
        warm.wait()
        on_warm()
        go.wait()

    seconds = timed_run([threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)], ready)
    if errors:
        raise SystemExit(f"{len(errors)} failed page loads, e.g. {errors[:3]}")

    def summary(samples: list[float]) -> dict:
        return {**latency_ms(samples), "max_ms": round(max(samples), 1), "n": len(samples)}

    pages = {page: summary(samples) for page, samples in results.items()}
    return pages, sum(len(samples) for samples in results.values()) / seconds


def measure_alone(base_url: str, loads: int = 10) -> dict:
    """Median latency of each page for a single client: the page's own cost, without queueing."""
    medians = {}
    for page, (path, users) in PAGES.items():
        session = signed_in_session(base_url, users[0])
        session.get(base_url + path, timeout=30)
        samples = []
        for _ in range(loads):
            started = time.perf_counter()
            session.get(base_url + path, timeout=30)
            samples.append((time.perf_counter() - started) * 1000)
        medians[page] = round(statistics.median(samples), 1)
    return medians


# --- demo scale: what `make run` serves a newcomer --------------------------------------------------

DEMO_PASSWORD = "bench-demo-password-1"
DEMO_LOADS = 15
# Every page of the navigation, as the demo's platform admin (who sees everything) opens it.
DEMO_PAGES = {
    "dashboard": "/",
    "requests": "/requests/",
    "request": "/requests/1/",
    "new_request": "/requests/new/",
    "inbox": "/approvals/",
    "grants": "/grants/",
    "grant": "/grants/1/",
    "unused_grants": "/grants/unused/",
    "denied_attempts": "/denied-attempts/",
    "clusters": "/clusters/",
    "cluster": "/clusters/1/",
    "namespaces": "/namespaces/",
    "audit": "/audit/",
    "api_docs": "/api/v1/docs/",
    "api_schema": "/api/v1/schema/",
}


def demo_environment(var_dir: str) -> dict:
    """`make run`'s embedded defaults: debug on, SQLite and a filesystem broker under a fresh var/."""
    env = clean_environ()
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_DEBUG="true",
        DJANGO_SETTINGS_MODULE="egressui.settings",
        EGRESSUI_VAR_DIR=var_dir,
        EGRESSUI_ENV_FILE="",  # not the checkout's own .env
        DJANGO_LOG_LEVEL="WARNING",
    )
    return env


def main_demo(checkout: Path) -> None:
    """Median time of every page for one client on `seed_demo`'s data, served like `make run` serves
    it (runserver, debug on, SQLite), from `checkout` (default: this one; another to compare)."""
    import requests

    python = os.environ.get("EGRESSUI_BENCH_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="egressui-bench-demo-") as var_dir:
        env = demo_environment(var_dir)
        started = time.perf_counter()
        for command in (["migrate", "--noinput"], ["seed_demo", "--password", DEMO_PASSWORD]):
            subprocess.run([python, "manage.py", *command], cwd=checkout, env=env, check=True, capture_output=True)
        seconds_setup = time.perf_counter() - started
        port = free_port()
        command = [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        server = start_server(command, name="runserver", env=env, port=port, cwd=checkout)
        try:
            base_url = f"http://127.0.0.1:{port}"
            cookies = signed_in_session(base_url, "admin", DEMO_PASSWORD).cookies

            def load(path: str):
                # A new connection each time: runserver's keep-alive answers a reused connection ~40 ms
                # late (delayed ACK), which would swamp what the page itself costs.
                return requests.get(base_url + path, cookies=cookies, headers={"Connection": "close"}, timeout=60)

            medians = {}
            for page, path in DEMO_PAGES.items():
                response = load(path)  # warm-up: imports, template caches
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
                samples = []
                for _ in range(DEMO_LOADS):
                    began = time.perf_counter()
                    load(path)
                    samples.append((time.perf_counter() - began) * 1000)
                medians[page] = round(statistics.median(samples), 1)
        finally:
            stop(server)
    print(
        json.dumps(
            {
                "bench": "web-demo",
                "checkout": str(checkout),
                "loads_per_page": DEMO_LOADS,
                "p50_ms": medians,
                "slowest": max(medians, key=medians.get),
                "target_p50_ms": 150,
                "all_under_target": all(value < 150 for value in medians.values()),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "seconds_setup": round(seconds_setup, 1),
            }
        )
    )


def main() -> None:
    if "--demo" in sys.argv:
        index = sys.argv.index("--demo")
        other = sys.argv[index + 1] if len(sys.argv) > index + 1 and not sys.argv[index + 1].startswith("-") else None
        return main_demo(Path(other).resolve() if other else ROOT)
    database_url = os.environ.get("EGRESSUI_BENCH_DATABASE_URL", DEFAULT_URL)
    if not database_url.startswith("postgres") or "bench" not in urlsplit(database_url).path:
        raise SystemExit(
            "EGRESSUI_BENCH_DATABASE_URL must name a throwaway PostgreSQL database with 'bench' in its name."
        )
    reuse = "--reuse" in sys.argv  # measure again on the data set a previous run left
    started = time.perf_counter()
    if not reuse:
        recreate_database(database_url)
    with tempfile.TemporaryDirectory(prefix="egressui-bench-web-") as static_root:
        env = environment(database_url, static_root)
        os.environ.update(env)
        manage(env, "collectstatic", "--noinput")
        if reuse:
            data = counts()
        else:
            manage(env, "migrate", "--noinput")
            log(f"migrated in {time.perf_counter() - started:.0f} s; writing the data set")
            data = populate()
        log(f"data set: {data}")
        seconds_setup = time.perf_counter() - started
        port = free_port()
        workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
        server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
        gunicorn = ["-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--worker-tmp-dir", "/tmp", "egressui.wsgi"]
        server = start_server([sys.executable, *gunicorn], name="gunicorn", env=server_env, port=port, seconds=30)
        try:
            base_url = f"http://127.0.0.1:{port}"
            snapshot: dict = {}

            def on_warm():
                snapshot["pids"] = server_pids(server.pid, database_url)
                snapshot["before"] = [procstat.cpu_seconds(pids) for pids in snapshot["pids"]]

            pages, throughput = measure(base_url, on_warm)
            cpu_before = snapshot["before"]
            cpu_after = [procstat.cpu_seconds(pids) for pids in snapshot["pids"]]
            alone = measure_alone(base_url)
            loads = os.getloadavg()
        finally:
            stop(server)
    page_loads = sum(page["n"] for page in pages.values())
    print(
        json.dumps(
            {
                "bench": "web",
                "requests": data["requests"],
                "grants": data["grants"],
                "audit_events": data["audit_events"],
                "pending_approval": data["pending"],
                "clients": CLIENTS,
                "gunicorn_workers": workers,
                "pages": pages,
                "pages_per_second": round(throughput, 1),
                "one_client_p50_ms": alone,
                "cpu_ms_per_page": {
                    "app": round((cpu_after[0] - cpu_before[0]) * 1000 / page_loads, 1),
                    "database": round((cpu_after[1] - cpu_before[1]) * 1000 / page_loads, 1),
                },
                "load_average_1m": round(loads[0], 2),
                "target_p95_ms": 150,
                "all_under_target": all(page["p95_ms"] < 150 for page in pages.values()),
                "seconds_setup": round(seconds_setup, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
