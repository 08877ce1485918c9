"""Reconcile the 10,000-grant cluster of bench/render.py against the Kubernetes API emulator; print one JSON line.

    REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/reconcile.py [--approvals 20]
    .venv/bin/python bench/reconcile.py --approvals 0 --code /work/main   # another checkout's reconciler

The grants are written to a scratch database (a SQLite file, or a throwaway PostgreSQL database when
DATABASE_URL names a PostgreSQL server), the cluster is the emulator of the test suite (tests/support/
kube/: real HTTP, server-side apply, label selectors), in its own process like a real API server;
its CRD validator is off here (it would time itself rather than the reconciler). Measured, after a
first full sync (`seconds_first_sync`, `objects_per_second_first_sync`, `cpu_seconds_first_sync` and
`cpu_ms_per_object_first_sync` — CPU of this process, the reconciler alone, everything included: render,
writes, recording —, `cpu_ms_per_object_write_phase` for the writes alone (the client's work per object:
encoding, HTTP, answers), `seconds_record_first_sync` for the recording transaction, commit included (the
run's own `record` timing stops before the commit), `cpu_seconds_record_first_sync` its CPU; `--profile
FILE` writes cProfile statistics of it, every thread included):

- `writes_noop`, `lists_noop`, `seconds_noop`: a reconcile with nothing changed, as a change triggers
  it (metadata-only lists, content hashes compared); must be 0 writes and one list per kind;
- `…_resync`: the same for the periodic resync, which lists whole objects and compares every field
  we set (drift repair);
- `writes_one_change`: a reconcile after one grant is revoked (only the objects of its host and
  namespace);
- `latency_p50` / `latency_p95`: seconds from an approval's commit until its objects are in the
  cluster, over N approvals of new hosts, with a live Celery worker on Redis (needs REDIS_URL; null
  without it).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _code_root() -> Path:
    """`--code DIR`: measure the reconciler of another checkout (e.g. main, for a before/after in the
    same run); the emulator is always this checkout's, so both face the same API server."""
    if "--code" in sys.argv:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return ROOT


CODE = _code_root()
sys.path.insert(0, str(CODE))
sys.path.insert(0, str(CODE / "bench"))  # render.py puts its own checkout first on the path

from tests.support.worker import CeleryWorker, process_env, scratch_database  # noqa: E402


def seed(data, api_url: str):
    """The render benchmark's input as database rows: one team, its 600 namespaces in their states, their
    identities, one approved request with every destination, 10,000 active grants."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from policies.choices import ConnectionKind, RequestStatus, TeamRole
    from policies.models import (
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

    users = get_user_model().objects
    dev, lead = users.create(username="dev"), users.create(username="lead")
    team = Team.objects.create(slug="bench", name="Bench")
    TeamMembership.objects.create(team=team, user=dev, role=TeamRole.MEMBER)
    TeamMembership.objects.create(team=team, user=lead, role=TeamRole.APPROVER)
    cluster = Cluster.objects.create(
        name=data.cluster.name,
        connection_kind=ConnectionKind.TOKEN,
        api_url=api_url,
        token="bench",
        wildcard_serving_hosts=dict(data.cluster.wildcard_serving_hosts),
    )
    ClusterSyncState.objects.create(cluster=cluster, needs_reconcile=False)
    states = {grant.namespace: "enforce" for grant in data.grants} | {ns.name: ns.enforcement for ns in data.namespaces}
    Namespace.objects.bulk_create(
        [Namespace(cluster=cluster, name=name, team=team, enforcement=state) for name, state in sorted(states.items())]
    )
    namespaces = {ns.name: ns for ns in Namespace.objects.filter(cluster=cluster)}
    accounts = sorted({(grant.namespace, grant.service_account) for grant in data.grants})
    WorkloadIdentity.objects.bulk_create(
        [WorkloadIdentity(namespace=namespaces[ns], service_account=sa) for ns, sa in accounts]
    )
    identities = {
        (identity.namespace.name, identity.service_account): identity
        for identity in WorkloadIdentity.objects.select_related("namespace")
    }
    now = timezone.now()
    request = EgressRequest.objects.create(
        team=team, requester=dev, status=RequestStatus.APPROVED, justification="bench", duration_days=365
    )
    destinations = {}
    for grant in data.grants:
        destinations.setdefault(
            (grant.host, grant.port, grant.protocol),
            RequestDestination(
                request=request,
                host=grant.host,
                port=grant.port,
                protocol=grant.protocol,
                expanded_hosts=list(grant.expanded_hosts),
            ),
        )
    RequestDestination.objects.bulk_create(destinations.values())
    stored = {(d.host, d.port, d.protocol): d for d in RequestDestination.objects.filter(request=request)}
    Grant.objects.bulk_create(
        [
            Grant(
                request=request,
                destination=stored[(g.host, g.port, g.protocol)],
                identity=identities[(g.namespace, g.service_account)],
                cluster=cluster,
                team=team,
                host=g.host,
                port=g.port,
                protocol=g.protocol,
                expanded_hosts=list(g.expanded_hosts),
                valid_from=now - timedelta(hours=1),
                expires_at=now + timedelta(days=365),
            )
            for g in data.grants
        ],
        batch_size=2000,
    )
    return cluster, sorted(states)


def reconcile(cluster, kube, trigger: str, *, profile: str = "") -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process — the reconciler, not the emulator —, the run).
    With `profile`, cProfile statistics of the run are written there (for every thread: setprofile)."""
    from policies.reconciler.loop import reconcile_cluster

    kube.reset_calls()
    _time_recording()
    with _profiled(profile):
        started, cpu = time.perf_counter(), time.process_time()
        run = reconcile_cluster(cluster.pk, trigger=trigger)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu_seconds, run


RECORDING: list[float] = []  # wall seconds of each run's recording transaction (reconcile_run_finish)
RECORDING_CPU: list[float] = []  # CPU seconds of this process in the same (read it when the machine is loaded)
WRITING: list[float] = []  # CPU seconds of this process during each run's write phase (loop._execute)


def _time_recording() -> None:
    """Time the recording step and the write phase's CPU of the measured checkout's runs."""
    import importlib

    from policies.reconciler import loop

    # Where the loop finds it: its own module now; checkouts before the run recording moved next to the
    # loop import it from the service module at call time (e.g. f6ca9d1, the issue-13 "before").
    home = loop if hasattr(loop, "reconcile_run_finish") else importlib.import_module("policies.services.reconcile")
    if getattr(home.reconcile_run_finish, "timed", False):
        return
    record, execute = home.reconcile_run_finish, loop._execute

    def timed_record(**kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return record(**kwargs)
        finally:
            RECORDING.append(time.perf_counter() - started)
            RECORDING_CPU.append(time.process_time() - cpu)

    def timed_execute(*args, **kwargs):
        started = time.process_time()
        try:
            return execute(*args, **kwargs)
        finally:
            WRITING.append(time.process_time() - started)

    timed_record.timed = True
    home.reconcile_run_finish, loop._execute = timed_record, timed_execute


@contextmanager
def _profiled(path: str):
    """cProfile this thread and every thread started meanwhile (the reconciler's pools); one file."""
    if not path:
        yield
        return
    import cProfile
    import pstats
    import threading

    profilers = [cProfile.Profile()]
    original = threading.Thread.run

    def run(thread):
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.runcall(original, thread)

    threading.Thread.run = run
    profilers[0].enable()
    try:
        yield
    finally:
        profilers[0].disable()
        threading.Thread.run = original
        stats = pstats.Stats(profilers[0])
        for profiler in profilers[1:]:
            stats.add(profiler)
        stats.dump_stats(path)


class _Emulator:
    """This checkout's emulator (`python -m tests.support.kube`) in its own process, inspected over
    HTTP with the measured checkout's `RemoteEmulator`."""

    def __enter__(self):
        import subprocess

        from policies.manifests.kinds import KINDS
        from tests.support.kube import RemoteEmulator

        command = [sys.executable, "-m", "tests.support.kube"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        url = self.process.stdout.readline().strip()
        if not url.startswith("http://"):
            self.process.kill()
            raise SystemExit("the emulator process did not start")
        return RemoteEmulator(url, KINDS)

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()  # the emulator stops when its stdin closes
        self.process.wait(timeout=30)
        self.process.stdout.close()


def approvals(cluster, kube, count: int) -> list[float]:
    """Submit and approve `count` requests for new hosts, one at a time; for each, the time from the
    approval's commit until the host's VirtualService (applied last of its objects) and the updated
    Sidecar of the namespace are in the cluster."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from policies.models import WorkloadIdentity
    from policies.services.approvals import egress_request_approve
    from policies.services.requests import DestinationInput, RequestInput, egress_request_create

    users = get_user_model().objects
    dev, lead = users.get(username="dev"), users.get(username="lead")
    identity = WorkloadIdentity.objects.select_related("namespace__team").filter(namespace__cluster=cluster).first()
    namespace = identity.namespace.name
    latencies = []
    for index in range(count):
        host = f"latency{index}.bench.example.com"
        name = host.replace(".", "-")
        data = RequestInput(
            team=identity.namespace.team,
            identities=[identity],
            destinations=[DestinationInput(host=host, port=443)],
            justification="bench",
        )
        request = egress_request_create(requester=dev, data=data, submit=True)
        committed = []
        with transaction.atomic():
            transaction.on_commit(lambda stamps=committed: stamps.append(time.perf_counter()))  # before the enqueue
            egress_request_approve(request=request, approver=lead)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sidecar = kube.get("sidecars", namespace, "default") or {}
            if kube.get("virtualservices", "istio-egress", name) and host in json.dumps(sidecar.get("spec", {})):
                break
            time.sleep(0.01)
        else:
            raise SystemExit(f"approval {index} was not applied within 120 s")
        latencies.append(time.perf_counter() - committed[0])
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=20)
    parser.add_argument("--code", default=str(ROOT), help="checkout whose reconciler is measured (default: this)")
    parser.add_argument("--profile", default="", help="write cProfile statistics of the first sync to this file")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "")

    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="egressui-bench-")))
        database_url = stack.enter_context(scratch_database(scratch))
        env = process_env(database_url=database_url, redis_url=redis_url, var_dir=scratch, DJANGO_LOG_LEVEL="WARNING")
        os.environ.update(env)
        if not redis_url:
            os.environ.pop("REDIS_URL")
        import django

        os.chdir(CODE)  # Celery's Django fix-up puts the working directory first on the path
        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from render import build_input

        from policies.manifests.kinds import kinds_for_mode

        call_command("migrate", verbosity=0)
        data, _ = build_input()
        kube = stack.enter_context(_Emulator())
        cluster, namespaces = seed(data, kube.url)
        kube.add_namespaces(["istio-egress", "istio-system", "kube-system", *namespaces])

        seconds_first, cpu_first, first = reconcile(cluster, kube, "change", profile=args.profile)
        assert first.outcome == "succeeded", first.error
        writes_first, record_first, write_cpu_first = len(kube.writes()), RECORDING[-1], WRITING[-1]
        record_cpu_first = RECORDING_CPU[-1]
        reconcile(cluster, kube, "change")  # steady state: the first sync's garbage is collected here
        seconds_noop, cpu_noop, noop = reconcile(cluster, kube, "change")
        writes_noop, lists_noop = len(kube.writes()), kube.count("list")
        reconcile(cluster, kube, "resync")  # a worker's first resync also imports the client's core API (~1.5 s)
        seconds_resync, cpu_resync, resync = reconcile(cluster, kube, "resync")
        writes_resync, lists_resync = len(kube.writes()), kube.count("list")

        from policies.models import Grant

        _revoke(Grant.objects.filter(cluster=cluster, protocol="tls").order_by("pk").first())
        seconds_one, _, one = reconcile(cluster, kube, "change")
        writes_one_change = len(kube.writes())

        latency, worker_runs = None, {}
        if redis_url:
            from policies.models import ReconcileRun

            worker_env = {**env, "DJANGO_LOG_LEVEL": "WARNING"}
            last = ReconcileRun.objects.order_by("-pk").values_list("pk", flat=True).first()
            with CeleryWorker(worker_env, scratch / "worker.log"):
                latency = approvals(cluster, kube, args.approvals)
            worker_runs = _phases(ReconcileRun.objects.filter(pk__gt=last, created__gt=0))

    line = {
        "grants": len(data.grants),
        "objects": first.created,
        "kinds": len(kinds_for_mode("istio")),
        "code": "this checkout" if CODE == ROOT else str(CODE),
        "concurrency": getattr(settings, "EGRESSUI_RECONCILE_CONCURRENCY", None)
        or getattr(settings, "EGRESSUI_RECONCILE_PARALLELISM", None),
        "seconds_first_sync": round(seconds_first, 2),
        "objects_per_second_first_sync": round(first.created / seconds_first, 1),
        "cpu_seconds_first_sync": round(cpu_first, 2),
        "cpu_ms_per_object_first_sync": round(1000 * cpu_first / max(1, first.created), 3),
        "writes_first_sync": writes_first,
        "seconds_record_first_sync": round(record_first, 2),
        "cpu_seconds_record_first_sync": round(record_cpu_first, 2),
        "cpu_ms_per_object_write_phase": round(1000 * write_cpu_first / max(1, first.created), 3),
        "timings_first_sync_ms": first.timings,
        "writes_noop": writes_noop,
        "lists_noop": lists_noop,
        "seconds_noop": round(seconds_noop, 3),
        "cpu_seconds_noop": round(cpu_noop, 3),
        "timings_noop_ms": noop.timings,
        "writes_noop_resync": writes_resync,
        "lists_noop_resync": lists_resync,
        "seconds_noop_resync": round(seconds_resync, 3),
        "cpu_seconds_noop_resync": round(cpu_resync, 3),
        "timings_noop_resync_ms": resync.timings,
        "writes_one_change": writes_one_change,
        "one_change": one.summary,
        "seconds_one_change": round(seconds_one, 3),
        "approvals": len(latency) if latency else 0,
        "latency_p50": round(statistics.median(latency), 3) if latency else None,
        "latency_p95": round(sorted(latency)[max(0, round(0.95 * len(latency)) - 1)], 3) if latency else None,
        "approval_run_ms": worker_runs,  # medians over the worker's runs that applied an approval
        "loadavg": round(os.getloadavg()[0], 1),  # the machine is shared: read wall figures against it
    }
    print(json.dumps(line))


def _phases(runs) -> dict[str, int]:
    rows = list(runs)
    if not rows:
        return {}
    phases = {phase for run in rows for phase in run.timings}
    medians = {phase: int(statistics.median(run.timings.get(phase, 0) for run in rows)) for phase in sorted(phases)}
    medians["total"] = int(statistics.median((run.finished_at - run.started_at).total_seconds() * 1000 for run in rows))
    return medians


def _revoke(grant) -> None:
    """Revoke as a platform admin would (the service audits it and marks the cluster)."""
    from django.contrib.auth import get_user_model

    from policies.services.grants import grant_revoke

    admin = get_user_model().objects.create(username="bench-admin", is_superuser=True)
    grant_revoke(grant=grant, actor=admin, reason="bench")


if __name__ == "__main__":
    main()
