"""Recording a reconcile run, next to the loop that makes it (`policies.reconciler.loop`).

The loop talks to the cluster with no transaction open; it calls `reconcile_run_begin` before and
`reconcile_run_finish` after, each one short transaction. The finish records the run and its
per-object results, the inventory of what is now in the cluster, the grants' applied state, the
cluster status and the outbox flag, and the audit events (actor None, "reconciler") for every object
written or failed, for repaired drift and for the run.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from egressui.correlation import current_correlation_id
from policies.choices import AppliedState, AuditEventType, ClusterStatus, GrantStatus
from policies.constants import SYNC_DETAILS_HIDDEN
from policies.models import Cluster, ClusterSyncState, Grant, ManagedObject, ReconcileObjectResult, ReconcileRun
from policies.reconciler.resources import ObjectKey, content_hash_of, grant_ids_of
from policies.reconciler.results import CREATED, DELETED, FAILED, UNCHANGED, UPDATED, ObjectResult, RunReport
from policies.services.audit import audit_events_record
from policies.services.rows import objects_insert

RECONCILER = "reconciler"
ABANDONED = "The worker running this reconcile stopped (killed or lost its lock); a later run took over."
_OBJECT_EVENTS = {
    CREATED: AuditEventType.OBJECT_CREATED,
    UPDATED: AuditEventType.OBJECT_UPDATED,
    DELETED: AuditEventType.OBJECT_DELETED,
    FAILED: AuditEventType.OBJECT_FAILED,
}
MAX_MESSAGE = 4000
_RESULT_FIELDS = ["run", "api_version", "kind", "namespace", "name", "action", "drift", "message"]


@dataclass(frozen=True)
class RunStart:
    run: ReconcileRun
    mark: datetime | None  # the outbox mark seen at the start: only that one may be cleared at the end
    marked: bool


@transaction.atomic
def reconcile_run_begin(
    *, cluster: Cluster, trigger: str, dry_run: bool = False, run_id: int | None = None
) -> RunStart:
    """Open a run; the caller holds the cluster's lock. Runs still `running` were abandoned by a dead
    worker (nobody else can hold the lock), so they are closed as failed. A real run fills in the
    queued run it was asked for, or else the oldest queued one (its message may have been lost)."""
    now = timezone.now()
    ReconcileRun.objects.filter(cluster=cluster, outcome=ReconcileRun.Outcome.RUNNING).update(
        outcome=ReconcileRun.Outcome.FAILED, finished_at=now, error=ABANDONED
    )
    run = None
    if not dry_run:
        queued = ReconcileRun.objects.select_for_update().filter(cluster=cluster, outcome=ReconcileRun.Outcome.QUEUED)
        run = (queued.filter(pk=run_id).first() if run_id else None) or queued.order_by("started_at", "id").first()
    if run is None:
        run = ReconcileRun.objects.create(
            cluster=cluster,
            trigger=trigger[:40],
            dry_run=dry_run,
            started_at=now,
            outcome=ReconcileRun.Outcome.RUNNING,
            correlation_id=current_correlation_id(),
        )
    else:
        run.timings = {"queued": int((now - run.started_at).total_seconds() * 1000)}
        run.started_at, run.outcome = now, ReconcileRun.Outcome.RUNNING
        run.correlation_id = run.correlation_id or current_correlation_id()  # the queueing request's
        run.save(update_fields=["timings", "started_at", "outcome", "correlation_id"])
    state = ClusterSyncState.objects.filter(cluster=cluster).values("needs_reconcile", "marked_at").first()
    if state is None:
        return RunStart(run=run, mark=None, marked=False)
    return RunStart(run=run, mark=state["marked_at"], marked=bool(state["needs_reconcile"]))


@transaction.atomic
def reconcile_run_finish(*, cluster: Cluster, start: RunStart, report: RunReport, dry_run: bool) -> ReconcileRun:
    """Record what the run did, in one short transaction after all cluster I/O. Its own duration
    (up to the commit) is the run's `record` timing."""
    began = time.perf_counter()
    now = timezone.now()
    run = start.run
    failures = report.failures
    if report.error:
        outcome = ReconcileRun.Outcome.FAILED
    elif failures:
        outcome = ReconcileRun.Outcome.PARTIAL
    else:
        outcome = ReconcileRun.Outcome.SUCCEEDED
    run.outcome, run.finished_at = outcome, now
    run.desired_hash = report.desired.digest if report.desired is not None else ""
    run.created, run.updated, run.deleted = report.count(CREATED), report.count(UPDATED), report.count(DELETED)
    run.unchanged, run.failed = report.count(UNCHANGED), len(failures)
    run.error = report.error[:MAX_MESSAGE]
    run.timings = {**run.timings, **report.timings}
    run.api_calls = dict(report.api_calls)
    rows = _record_results(run, report)
    if not dry_run:
        _update_inventory(cluster, report)
        grant_changes = _update_grants(cluster, report, now)
        status_changed = _update_status(cluster, start, report, outcome, now)
        _record_events(cluster, run, report, rows, grant_changes, status_changed=status_changed)
    run.timings["record"] = int((time.perf_counter() - began) * 1000)
    run.save()
    return run


def _record_results(run: ReconcileRun, report: RunReport) -> dict[ObjectKey, ReconcileObjectResult]:
    """The per-object results worth keeping (every change, and unchanged objects with a message), by
    key, with their primary keys: the audit events name them."""
    rows = {
        result.key: ReconcileObjectResult(
            run=run,
            api_version=result.api_version,
            kind=result.key.kind,
            namespace=result.key.namespace,
            name=result.key.name,
            action=result.action,
            drift=bool(result.change.drift) and result.action != FAILED,
            message=(result.message or result.change.drift)[:MAX_MESSAGE],
        )
        for result in report.results
        if result.action != UNCHANGED or result.message
    }
    objects_insert(list(rows.values()), fields=_RESULT_FIELDS)
    if rows:
        stored = ReconcileObjectResult.objects.filter(run=run).values_list("pk", "kind", "namespace", "name")
        for pk, kind, namespace, name in stored:
            rows[ObjectKey(kind, namespace, name)].pk = pk
    return rows


def _record_events(
    cluster: Cluster,
    run: ReconcileRun,
    report: RunReport,
    rows: dict[ObjectKey, ReconcileObjectResult],
    grant_changes: dict[int, tuple[dict, dict]],
    *,
    status_changed: bool,
) -> None:
    """One audit event per object written or failed, per grant whose applied state changed, and one
    for the run when anything happened (or its outcome changed the cluster's status)."""
    events = []
    for result in report.results:
        if result.action == UNCHANGED:
            continue
        row = rows[result.key]
        drift = bool(result.change.drift) and result.action != FAILED
        events.append(
            {
                "event_type": AuditEventType.OBJECT_DRIFT_REPAIRED if drift else _OBJECT_EVENTS[result.action],
                "subject": row,
                "before": {"content_hash": result.old_hash} if result.old_hash else None,
                "after": _object_after(result),
                "message": row.message,
            }
        )
    for grant_id, (before, after) in grant_changes.items():
        events.append(
            {
                "event_type": AuditEventType.GRANT_APPLIED_STATE,
                "subject": ("grant", grant_id, f"grant #{grant_id}"),
                "before": before,
                "after": after,
                "message": after.get("message", ""),
            }
        )
    if events or report.error or status_changed:
        events.append(
            {
                "event_type": AuditEventType.RECONCILE_FINISHED,
                "subject": run,
                "after": {
                    "outcome": run.outcome,
                    "trigger": run.trigger,
                    "summary": run.summary,
                    "commit": report.commit,
                },
                "message": run.error,
            }
        )
    audit_events_record({**event, "actor": None, "actor_repr": RECONCILER, "cluster": cluster} for event in events)


def _object_after(result: ObjectResult) -> dict:
    after: dict[str, object] = {"kind": result.key.kind, "namespace": result.key.namespace, "name": result.key.name}
    if result.action in (CREATED, UPDATED):
        after.update(content_hash=result.new_hash, grants=list(result.grants_after))
    if result.change.drift and result.action != FAILED:
        after["drift"] = result.change.drift
    return after


def _update_inventory(cluster: Cluster, report: RunReport) -> None:
    """Make the inventory hold what the cluster holds after this run, writing only differences."""
    current = {
        ObjectKey(kind, namespace, name): (pk, content_hash)
        for pk, kind, namespace, name, content_hash in ManagedObject.objects.filter(cluster=cluster).values_list(
            "pk", "kind", "namespace", "name", "content_hash"
        )
    }
    after: dict[ObjectKey, str | None] = {}
    for result in report.results:
        obj = result.in_cluster_after
        after[result.key] = content_hash_of(obj) if obj is not None else None
    if report.complete:
        # Objects that are neither desired nor live any more have left the cluster.
        seen = set(after)
        for key in current:
            if key not in seen:
                after[key] = None
    create, update, remove = [], [], []
    for key, content_hash in after.items():
        existing = current.get(key)
        if content_hash is None:
            if existing is not None:
                remove.append(existing[0])
        elif existing is None:
            create.append(ManagedObject(cluster=cluster, **key._asdict(), content_hash=content_hash))
        elif existing[1] != content_hash:
            update.append(ManagedObject(pk=existing[0], content_hash=content_hash))
    if remove:
        ManagedObject.objects.filter(pk__in=remove).delete()
    objects_insert(create, fields=["cluster", "kind", "namespace", "name", "content_hash", "updated_at"])
    if update:
        ManagedObject.objects.bulk_update(update, ["content_hash"], batch_size=1000)


def _update_grants(cluster: Cluster, report: RunReport, now: datetime) -> dict[int, tuple[dict, dict]]:
    """Applied state per grant of this cluster. An active grant is applied when every object serving
    it is in place, failed (with the first reason) when one is not; a grant no longer desired is
    removed once no object in the cluster serves it any more. Grants already in their steady state
    (in force and applied, untouched by a failure) are not even loaded: a no-op run stays cheap."""
    target: dict[int, tuple[str, str]] = {}
    if report.complete and report.desired is not None:
        failed: dict[int, ObjectResult] = {}
        for result in report.failures:
            for grant_id in grant_ids_of(result.change.desired or {}):
                failed.setdefault(grant_id, result)
        unrenderable = report.desired.unrenderable
        steady = Q(
            status=GrantStatus.ACTIVE,
            applied_state=AppliedState.APPLIED,
            applied_message="",
            valid_from__lte=now,
            expires_at__gt=now,
        )
        rows = list(
            Grant.objects.filter(cluster=cluster)
            .exclude(applied_state=AppliedState.REMOVED)
            .filter(~steady | Q(pk__in=[*failed, *unrenderable]))
            .values_list("pk", "status", "valid_from", "expires_at")
        )
        served = _served_grants(report, {row[0] for row in rows}) if rows else set()
        still_served = None
        for grant_id, status, valid_from, expires_at in rows:
            if grant_id in failed:
                result = failed[grant_id]
                target[grant_id] = (AppliedState.FAILED, f"{result.key}: {result.message}")
            elif grant_id in unrenderable:  # namespace-wide objects may list it; its own are missing
                target[grant_id] = (AppliedState.FAILED, f"Not rendered: {unrenderable[grant_id]}")
            elif grant_id in served:
                target[grant_id] = (AppliedState.APPLIED, "")
            elif status == GrantStatus.ACTIVE and valid_from > now:
                continue  # not in force yet: still pending
            elif status == GrantStatus.ACTIVE and expires_at > now:
                target[grant_id] = (AppliedState.FAILED, "Not rendered: the renderer produced no object for it")
            else:
                if still_served is None:  # what the cluster still holds, failed deletes included
                    still_served = {grant for result in report.results for grant in result.grants_after}
                if grant_id not in still_served:
                    target[grant_id] = (AppliedState.REMOVED, "")
    elif report.error and not report.error_transient:
        # The cluster refused the whole run (CRDs missing, credentials, RBAC): say so on every grant
        # that should be there; why is the cluster's connection, which only platform admins see.
        message = f"Cluster {cluster.name} could not be reconciled. {SYNC_DETAILS_HIDDEN}"
        for grant_id in Grant.objects.filter(cluster=cluster, status=GrantStatus.ACTIVE).values_list("pk", flat=True):
            target[grant_id] = (AppliedState.FAILED, message)
    if not target:
        return {}
    changes: dict[int, tuple[dict, dict]] = {}
    current = {
        pk: (state, message)
        for pk, state, message in Grant.objects.filter(pk__in=target).values_list(
            "pk", "applied_state", "applied_message"
        )
    }
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for grant_id, (state, message) in target.items():
        message = message[:MAX_MESSAGE]
        if current.get(grant_id) != (state, message):
            groups[(state, message)].append(grant_id)
            before_state, before_message = current.get(grant_id, ("", ""))
            changes[grant_id] = (
                {"applied_state": before_state, **({"message": before_message} if before_message else {})},
                {"applied_state": state, **({"message": message} if message else {})},
            )
    for (state, message), ids in groups.items():
        fields: dict[str, object] = {"applied_state": state, "applied_message": message}
        if state in (AppliedState.APPLIED, AppliedState.REMOVED):
            fields["applied_at"] = now
        Grant.objects.filter(pk__in=ids).update(**fields)
    return changes


def _served_grants(report: RunReport, wanted: set[int]) -> set[int]:
    """Which of `wanted` some desired object serves. A new grant's objects were written in this run,
    so those are looked at first; all desired objects only if some grant is still unaccounted for."""
    served = {
        grant_id
        for result in report.results
        if result.action in (CREATED, UPDATED)
        for grant_id in grant_ids_of(result.change.desired or {})
        if grant_id in wanted
    }
    if wanted - served and report.desired is not None:
        served |= {grant_id for ids in report.desired.grants_by_key().values() for grant_id in ids} & wanted
    return served


def _update_status(cluster: Cluster, start: RunStart, report: RunReport, outcome: str, now: datetime) -> bool:
    """Cluster status and the outbox. The flag is cleared only if no newer mark arrived during the run
    (that one must cause another run) and nothing failed that is worth retrying soon."""
    state, _ = ClusterSyncState.objects.select_for_update().get_or_create(cluster=cluster)
    before = (state.status, state.status_message)
    failures = report.failures
    if outcome == ReconcileRun.Outcome.SUCCEEDED:
        state.status = ClusterStatus.READY
        total = len(report.desired.objects) if report.desired is not None else 0
        state.status_message = f"In sync: {total} objects."
        state.last_success_at, state.last_error = now, ""
        state.observed_hash = report.desired.digest if report.desired is not None else ""
    else:
        state.status = ClusterStatus.DEGRADED
        if report.error:
            state.status_message = report.error[:MAX_MESSAGE]
        else:
            state.status_message = f"{len(failures)} of {len(report.results)} objects failed."
        state.last_error = (report.error or "\n".join(f"{f.key}: {f.message}" for f in failures[:20]))[:MAX_MESSAGE]
    state.last_attempt_at = now
    state.save()
    if not report.transient:
        ClusterSyncState.objects.filter(cluster=cluster, needs_reconcile=True, marked_at=start.mark).update(
            needs_reconcile=False
        )
    return before != (state.status, state.status_message)
