"""`reconcile_cluster(cluster_id)`: the level-based loop for one cluster (DESIGN §5, STYLE 13–15).

1. take the cluster's lease and open a run (short transaction);
2. compute the desired objects (plain reads; no transaction is held during cluster I/O) while, in a
   second thread, listing live objects carrying our labels, one call per kind;
3. diff by content hash (and by our fields, for drift);
4. apply what differs (server-side apply) kind by kind in apply order, then delete what is no longer
   desired in reverse order; writes within one kind run concurrently (`EGRESSUI_RECONCILE_CONCURRENCY`,
   fewer while the API server answers 429);
5. record the run, its results, grant states, status and audit events (short transaction).

A second run with nothing changed lists and makes zero write calls.
"""

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded

from egressui.correlation import correlation_scope, current_correlation_id
from policies.choices import ConnectionKind
from policies.manifests.kinds import KIND_BY_NAME, KindInfo, kinds_for_mode
from policies.models import Cluster, ClusterSyncState, ManagedObject, ReconcileRun, WorkloadIdentity
from policies.reconciler import diff
from policies.reconciler.cluster import KubernetesTarget
from policies.reconciler.desired import desired_state
from policies.reconciler.directory import DirectoryTarget
from policies.reconciler.error_text import CREDENTIAL_BEARING, safe_error_text
from policies.reconciler.errors import (
    DesiredStateInvalid,
    KindNotServed,
    LeaseLost,
    ObjectFailed,
    ReconcileBusy,
    ReconcileRetry,
    TargetUnavailable,
)
from policies.reconciler.locks import Lease, cluster_lease
from policies.reconciler.resources import ObjectKey, grant_ids_of, kind_info, not_ours_message
from policies.reconciler.results import DONE, FAILED, UNCHANGED, ObjectResult, RunReport
from policies.reconciler.runs import RunStart, reconcile_run_begin, reconcile_run_finish
from policies.reconciler.target import Target
from policies.services.clusters import workload_identity_ensure
from policies.services.outbox import enqueue_reconcile

logger = logging.getLogger(__name__)

# From this many creates of one kind in a run, check names with one list instead of a GET each.
BULK_CREATE_CHECK = 20
# Runs that compare every field we set (and so repair edits behind our back): the periodic resync and
# runs a person asks for. Runs triggered by a change list metadata only and compare content hashes,
# which finds changed, missing and extra objects with a fraction of the data.
FULL_CHECK_TRIGGERS = frozenset({"resync", "manual", "command"})


def target_for(cluster: Cluster) -> Target:
    """The adapter for the cluster's connection: a GitOps directory or a Kubernetes API server."""
    if cluster.connection_kind == ConnectionKind.DIRECTORY:
        return DirectoryTarget(cluster)
    return KubernetesTarget(cluster)


def reconcile_cluster(
    cluster_id: int, *, trigger: str, dry_run: bool = False, run_id: int | None = None, wait: float = 0.0
) -> ReconcileRun:
    """Run one reconcile of the cluster now and return its ReconcileRun. Raises ReconcileBusy if another
    reconcile of this cluster holds the lock for longer than `wait` seconds."""
    run, _ = _reconcile(cluster_id, trigger=trigger, dry_run=dry_run, run_id=run_id, wait=wait)
    return run


def reconcile_cluster_for_task(cluster_id: int, *, trigger: str, run_id: int | None = None) -> str:
    """The body of `reconcile_cluster_task`. Coalesces when another run holds the lock (that run
    re-checks the outbox when it ends) unless a queued run waits to be filled in; asks for a retry
    with backoff when the run failed in a way worth retrying unchanged (429, 5xx, unreachable)."""
    try:
        run, report = _reconcile(cluster_id, trigger=trigger, dry_run=False, run_id=run_id)
    except Cluster.DoesNotExist:
        return "cluster deleted"
    except ReconcileBusy as exc:
        if run_id is None:
            return "coalesced into the running reconcile"
        raise ReconcileRetry(str(exc)) from None
    if report.transient:
        raise ReconcileRetry(f"run #{run.pk}: {report.error or 'transient object failures'}")
    return f"run #{run.pk}: {run.outcome} {run.summary}"


def _reconcile(
    cluster_id: int, *, trigger: str, dry_run: bool, run_id: int | None, wait: float = 0.0
) -> tuple[ReconcileRun, RunReport]:
    cluster = Cluster.objects.get(pk=cluster_id)
    lease = cluster_lease(cluster.pk)
    if not lease.acquire(wait=wait):
        lease.release()
        raise ReconcileBusy(f"another reconcile of cluster {cluster.name} is running")
    try:
        run, report, start = _reconcile_locked(cluster, lease, trigger=trigger, dry_run=dry_run, run_id=run_id)
    finally:
        lease.release()
    if not dry_run:
        _follow_up(cluster.pk, start)
    return run, report


def _reconcile_locked(
    cluster: Cluster, lease: Lease, *, trigger: str, dry_run: bool, run_id: int | None
) -> tuple[ReconcileRun, RunReport, RunStart]:
    start = reconcile_run_begin(cluster=cluster, trigger=trigger, dry_run=dry_run, run_id=run_id)
    # A queued run keeps the correlation id of the request that queued it: its audit events and log
    # lines carry one id from the click to the finish.
    with correlation_scope(start.run.correlation_id or current_correlation_id()):
        return _reconcile_started(cluster, lease, start, trigger=trigger, dry_run=dry_run)


def _reconcile_started(
    cluster: Cluster, lease: Lease, start: RunStart, *, trigger: str, dry_run: bool
) -> tuple[ReconcileRun, RunReport, RunStart]:
    report = RunReport()
    target = accounts = None
    clock = _Clock(report.timings)
    try:
        target = target_for(cluster)
        full = trigger in FULL_CHECK_TRIGGERS
        # Listing mostly waits on the API server while rendering keeps this thread busy: both at once.
        kinds = _kinds_to_list(cluster)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-list") as pool:
            listing = pool.submit(_list_live, target, kinds, cluster.enforcement_mode, metadata_only=not full)
            with clock("desired"):
                report.desired = desired_state(cluster)
                inventory = _inventory(cluster)
            live, report.timings["list"] = listing.result()
        lease.keep_alive()
        changes = diff.plan(report.desired.objects, live, inventory, compare_fields=full)
        with clock("write"):
            _execute(changes, target, report, lease=lease, dry_run=dry_run)
        if not dry_run and not report.aborted:
            report.commit = target.commit(_commit_message(cluster, report))
        if trigger == "resync" and not dry_run:
            accounts = _service_accounts(cluster, target)
    except TargetUnavailable as exc:
        report.error, report.error_transient = exc.message, exc.transient
    except DesiredStateInvalid as exc:
        report.error = f"The rendered objects were refused before any write: {exc}"
    except LeaseLost as exc:
        report.error, report.error_transient, report.aborted = f"Stopped: {exc}", True, True
    except SoftTimeLimitExceeded:
        report.error, report.error_transient, report.aborted = "Stopped: the task's time limit was reached", True, True
    except Exception as exc:
        # The exception's own text may quote an API answer or a credential: the report gets a safe
        # text, the log the traceback only for egressui's own failures.
        if not isinstance(exc, CREDENTIAL_BEARING):
            logger.exception("reconcile of cluster %s failed", cluster.name)
        report.error = f"Internal error: {safe_error_text(exc, doing=f'reconciling {cluster.name}')}"
        report.error_transient = True
    finally:
        if target is not None:
            report.api_calls = dict(target.calls)
            target.close()
    if dry_run and target is not None:
        for result in report.results:
            if result.action != UNCHANGED:
                result.message = result.message or target.dry_run_message(result.key, result.change.desired)
    run = reconcile_run_finish(cluster=cluster, start=start, report=report, dry_run=dry_run)
    if accounts is not None:
        _record_identities(cluster, accounts)
    return run, report, start


def _inventory(cluster: Cluster) -> dict[ObjectKey, str]:
    rows = ManagedObject.objects.filter(cluster=cluster).values_list("kind", "namespace", "name", "content_hash")
    return {ObjectKey(kind, namespace, name): content_hash for kind, namespace, name, content_hash in rows}


def _kinds_to_list(cluster: Cluster) -> tuple[tuple[KindInfo, ...], tuple[KindInfo, ...]]:
    """(the mode's kinds, other kinds egressui still has objects of): after a change of enforcement
    mode the old mode's objects are listed too, so they are deleted; a kind no longer served there
    has nothing left to delete."""

    required = kinds_for_mode(cluster.enforcement_mode)
    names = {info.key for info in required}
    leftover = set(
        ManagedObject.objects.filter(cluster=cluster).exclude(kind__in=names).values_list("kind", flat=True).distinct()
    )
    return required, tuple(info for name, info in KIND_BY_NAME.items() if name in leftover)


# What each mode needs installed, for the error when a kind is not served.
_INSTALL_HINT = {
    "istio": "install the Istio CRDs (1.22 or later)",
    "istio-ambient": "install the Istio CRDs (1.24 or later) and the Gateway API CRDs (the waypoint)",
    "cilium": "install Cilium (1.15 or later) with its CRDs",
}


def _list_live(
    target: Target, kinds: tuple[tuple[KindInfo, ...], tuple[KindInfo, ...]], mode: str, *, metadata_only: bool
) -> tuple[dict[ObjectKey, dict], int]:
    """One list call per kind (and the milliseconds it took). The mode's kinds the API server does
    not serve are collected and reported together."""
    began = time.perf_counter()
    live, missing = {}, []
    required, leftover = kinds
    for info in (*required, *leftover):
        try:
            live.update(target.list_managed(info, metadata_only=metadata_only))
        except KindNotServed:
            if info in required:
                missing.append(f"{info.kind} ({info.api_version})")
    if missing:
        hint = _INSTALL_HINT.get(mode, "install the CRDs of the cluster's enforcement mode")
        raise TargetUnavailable(
            f"The cluster does not serve {', '.join(missing)}: {hint} and make sure these API versions are served."
        )
    return live, int((time.perf_counter() - began) * 1000)


def _execute(changes: list[diff.Change], target: Target, report: RunReport, *, lease: Lease, dry_run: bool) -> None:
    """Write batch by batch (a kind's applies, …, then a kind's deletes); concurrent inside a batch. A
    target-wide failure stops the remaining writes (what was done is still recorded)."""
    report.results.extend(ObjectResult(change, UNCHANGED) for change in changes if not change.writes)
    unmanaged = _unmanaged_keys(changes, target, lease)
    heartbeat = max(0.5, lease.ttl / 4)
    for batch in diff.phases(changes):
        _write_batch(batch, target, report, lease=lease, heartbeat=heartbeat, dry_run=dry_run, unmanaged=unmanaged)


def _write_batch(
    batch: list[diff.Change],
    target: Target,
    report: RunReport,
    *,
    lease: Lease,
    heartbeat: float,
    dry_run: bool,
    unmanaged: dict[str, set[ObjectKey]],
) -> None:
    """`target.concurrency` workers take the batch's changes from one queue (no future per object: a
    first sync has thousands); this thread records results as they come and renews the lease, also
    while waiting. On a target-wide failure (or a lost lease) the workers take nothing more, the
    writes in flight are recorded, the run is marked aborted and the failure raised."""
    todo = deque(batch)
    done: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                change = todo.popleft()
            except IndexError:
                return
            try:
                done.put((_write(target, change, dry_run, unmanaged), None))
            except BaseException as exc:  # handed to the recording thread, which raises it
                stop.set()
                done.put((None, exc))

    workers = [
        threading.Thread(target=work, name=f"reconcile-{index}", daemon=True)
        for index in range(min(max(1, target.concurrency), len(batch)))
    ]
    for worker in workers:
        worker.start()
    error: BaseException | None = None
    try:
        while any(worker.is_alive() for worker in workers) or not done.empty():
            try:
                result, failure = done.get(timeout=heartbeat)
            except queue.Empty:
                lease.keep_alive()
                continue
            if failure is not None:
                error = error or failure
            else:
                report.results.append(result)
            lease.keep_alive()
    except BaseException as exc:
        error = error or exc
    if error is not None:
        stop.set()
        for worker in workers:
            worker.join()
        while not done.empty():
            result, _ = done.get()
            if result is not None:
                report.results.append(result)
        report.aborted = True
        raise error


def _unmanaged_keys(changes: list[diff.Change], target: Target, lease: Lease) -> dict[str, set[ObjectKey]]:
    """For kinds with many creates (a first sync), one metadata-only list of everything of the kind
    replaces a GET per create: names taken by objects without our labels must not be adopted."""
    creates = Counter(change.key.kind for change in changes if change.action == diff.CREATE)
    unmanaged = {}
    for kind, count in creates.items():
        if count >= BULK_CREATE_CHECK:
            lease.keep_alive()
            keys = target.unmanaged_keys(kind_info(kind))
            if keys is not None:
                unmanaged[kind] = keys
    return unmanaged


def _write(target: Target, change: diff.Change, dry_run: bool, unmanaged: dict[str, set[ObjectKey]]) -> ObjectResult:
    try:
        if change.action == diff.DELETE:
            assert change.live is not None  # a delete is of an object the list returned
            deleted = target.delete(change.key, change.live, dry_run=dry_run)
            if not deleted:
                return ObjectResult(change, UNCHANGED, "Already gone, or no longer carries egressui's labels.")
        elif change.key.kind in unmanaged:
            if change.key in unmanaged[change.key.kind]:
                raise ObjectFailed(not_ours_message(change.key, target.cluster_name))
            assert change.desired is not None  # creates and updates carry the object to write
            target.apply(change.desired, dry_run=dry_run)
        else:
            assert change.desired is not None
            target.apply(change.desired, dry_run=dry_run, create=change.action == diff.CREATE)
    except ObjectFailed as exc:
        return ObjectResult(change, FAILED, exc.message, exc.transient)
    return ObjectResult(change, DONE[change.action])


def _commit_message(cluster: Cluster, report: RunReport) -> str:
    counts = {action: report.count(action) for action in ("created", "updated", "deleted")}
    grants = sorted({grant for result in report.results if result.action in DONE.values() for grant in _grants(result)})
    lines = [
        f"egressui: reconcile cluster {cluster.name}",
        "",
        " ".join(f"{action}={count}" for action, count in counts.items()),
        "Grants: " + (", ".join(f"#{grant}" for grant in grants) if grants else "none"),
    ]
    return "\n".join(lines) + "\n"


def _grants(result: ObjectResult) -> set[int]:
    objects = [obj for obj in (result.change.desired, result.change.live) if obj]
    return {grant for obj in objects for grant in grant_ids_of(obj)}


def _follow_up(cluster_id: int, start: RunStart) -> None:
    """A mark made while this run held the lock must cause another run: the task that carried it may
    have found the lock taken and coalesced into this one."""

    state = ClusterSyncState.objects.filter(cluster_id=cluster_id).values("needs_reconcile", "marked_at").first()
    if state and state["needs_reconcile"] and state["marked_at"] != start.mark:
        enqueue_reconcile([cluster_id], trigger="follow-up")


def _service_accounts(cluster: Cluster, target: Target) -> dict[str, set[str]] | None:
    try:
        return target.service_accounts()
    except TargetUnavailable as exc:
        logger.warning("identity discovery in cluster %s skipped: %s", cluster.name, exc.message)
        return None


def _record_identities(cluster: Cluster, accounts: dict[str, set[str]]) -> None:
    """Workload identity discovery, part of the periodic resync: the service accounts found in
    team-owned namespaces become identities teams can pick (audited by the service)."""

    known = set(
        WorkloadIdentity.objects.filter(namespace__cluster=cluster, discovered=True).values_list(
            "namespace__name", "service_account"
        )
    )
    for namespace in cluster.namespaces.all():
        for service_account in sorted(accounts.get(namespace.name, ())):
            if (namespace.name, service_account) not in known:
                workload_identity_ensure(
                    actor=None, namespace=namespace, service_account=service_account, discovered=True
                )


class _Clock:
    """Milliseconds per phase, into the run's timings."""

    def __init__(self, timings: dict):
        self.timings = timings

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = int((time.perf_counter() - began) * 1000)
