"""Latency and query count of the access map at the size issue 16 names: 200 workload identities in
10 namespaces × 300 destinations, 3 grants per identity (one in three expiring within 7 days, one in
six idle for 45 days on a monitored cluster), 300 blocked and 100 observed pairs in the last week,
in PostgreSQL, served in-process by Django's test client (no network, no gunicorn).

    .venv/bin/python bench/access_map.py [--reuse]

The database named by EGRESSUI_BENCH_DATABASE_URL (default: egressui_bench_map on 127.0.0.1) is
dropped and created again, so its name must contain "bench"; `--reuse` measures the data a previous
run left. Prints one JSON line: p50/p95 wall time, the median CPU time of this process (less
inflated by other load on the machine) and SQL queries per page, for a team member's first page, a
platform admin's first page, and the admin's map filtered to blocked lines.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._setup import latency_ms, manage, recreate_database  # noqa: E402
from bench.web import environment  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/egressui_bench_map"
IDENTITIES, NAMESPACES, DESTINATIONS, GRANTS_EACH = 200, 10, 300, 3
ROUNDS = 30
PAGES = {"member": "/access-map/", "admin": "/access-map/", "admin_blocked": "/access-map/?state=blocked"}


def populate() -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from policies.choices import AccessVerdict, RequestStatus, TeamRole
    from policies.models import (
        AccessRecord,
        Cluster,
        ClusterIngestState,
        EgressRequest,
        Grant,
        Namespace,
        RequestDestination,
        Team,
        TeamMembership,
        WorkloadIdentity,
    )

    now = timezone.now()
    users = get_user_model().objects
    member = users.create_user("map-member", password="x")
    users.create_superuser("map-admin", password="x")
    team = Team.objects.create(slug="payments", name="Payments")
    other = Team.objects.create(slug="search", name="Search")
    TeamMembership.objects.create(team=team, user=member, role=TeamRole.MEMBER)
    cluster = Cluster.objects.create(name="bench", directory_path=tempfile.mkdtemp())
    ClusterIngestState.objects.create(cluster=cluster, first_received_at=now - timedelta(days=60), last_received_at=now)
    request = EgressRequest.objects.create(
        team=team, requester=member, status=RequestStatus.APPROVED, justification="bench", duration_days=90
    )
    destination = RequestDestination.objects.create(request=request, host="bench.example.com", port=443)
    identities = []
    for n in range(NAMESPACES):
        namespace = Namespace.objects.create(cluster=cluster, name=f"ns-{n:02d}", team=team if n % 5 else other)
        identities += WorkloadIdentity.objects.bulk_create(
            WorkloadIdentity(namespace=namespace, service_account=f"app-{i:02d}")
            for i in range(IDENTITIES // NAMESPACES)
        )
    grants = []
    for i, identity in enumerate(identities):
        for k in range(GRANTS_EACH):
            idle = (i + k) % 6 == 0
            grants.append(
                Grant(
                    request=request,
                    destination=destination,
                    identity=identity,
                    cluster=cluster,
                    team_id=identity.namespace.team_id,
                    host=f"svc{(i * 7 + k * 101) % DESTINATIONS:03d}.partner.example.com",
                    port=443,
                    protocol="tls",
                    valid_from=now - timedelta(days=45 if idle else 1),
                    expires_at=now + timedelta(days=5 if k == 0 else 60),
                )
            )
    Grant.objects.bulk_create(grants)
    hour = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    records = []
    for h in range(DESTINATIONS + 100):
        identity = identities[h % len(identities)]
        namespace = identity.namespace
        verdict = AccessVerdict.DENIED if h < DESTINATIONS else AccessVerdict.OBSERVED
        records.append(
            AccessRecord(
                cluster=cluster,
                hour=hour,
                source_principal=f"cluster.local/ns/{namespace.name}/sa/{identity.service_account}",
                host=f"svc{h:03d}.{'blocked' if verdict == AccessVerdict.DENIED else 'seen'}.example.com",
                verdict=verdict,
                namespace=namespace,
                identity=identity,
                port=443,
                count=3,
                first_seen=hour,
                last_seen=hour,
            )
        )
    AccessRecord.objects.bulk_create(records)


def measure() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    result = {}
    for label, url in PAGES.items():
        client = Client()
        client.force_login(get_user_model().objects.get(username="map-admin" if "admin" in label else "map-member"))
        client.get(url)  # warm-up
        times, cpu = [], []
        for _ in range(ROUNDS):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            assert response.status_code == 200, response.status_code
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        result[label] = {
            **latency_ms(times),
            "cpu_p50_ms": round(statistics.median(cpu), 1),  # this process only: PostgreSQL's share excluded
            "queries": len(queries),
            "identities_drawn": response.content.count(b'class="map-label map-identity"'),
            "lines_drawn": response.content.count(b'class="map-edge"'),
        }
    return result


def main() -> None:
    url = os.environ.get("EGRESSUI_BENCH_DATABASE_URL", DEFAULT_URL)
    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("EGRESSUI_BENCH_DATABASE_URL must name a database containing 'bench': it is dropped.")
    env = environment(url, tempfile.mkdtemp())
    env["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.update(env)
    if "--reuse" not in sys.argv:
        recreate_database(url)
        manage(env, "migrate", "--no-input")
    manage(env, "collectstatic", "--no-input")  # the production static storage needs its manifest
    import django

    django.setup()
    if "--reuse" not in sys.argv:
        populate()
    print(json.dumps({"identities": IDENTITIES, "destinations": DESTINATIONS, "pages": measure()}))


if __name__ == "__main__":
    main()
