"""Writes on clusters and workload identities (platform configuration); namespaces: `services.namespaces`."""

from typing import Any

from django.db import transaction

from policies.actors import Actor
from policies.choices import AuditEventType, EnforcementMode
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import Cluster, ClusterSyncState, ManagedObject, Namespace, WorkloadIdentity
from policies.permissions import can_add_identity, can_manage_clusters
from policies.reconciler.kubeconfig import cluster_files_problems
from policies.services.audit import audit_event_record
from policies.services.config import config_delete, config_update, full_clean
from policies.services.outbox import cluster_mark_for_reconcile

# Fields an admin may set on a cluster; secrets are write-only and redacted in the audit log.
CLUSTER_FIELDS = (
    "description",
    "environment",
    "enforcement_mode",
    "connection_kind",
    "kubeconfig_path",
    "kube_context",
    "kubeconfig",
    "api_url",
    "ca_cert",
    "token",
    "directory_path",
    "egress_namespace",
    "gateway_selector",
    "gateway_service_host",
    "gateway_https_port",
    "gateway_http_port",
    "gateway_pod_https_port",
    "gateway_pod_http_port",
    "istiod_namespace",
    "istiod_selector",
    "dns_namespace",
    "dns_selector",
    "trust_domain",
    "manage_sidecars",
    "access_log_provider",
    "wildcard_serving_hosts",
    "default_namespace_enforcement",
    "in_cluster_egress",
    "in_cluster_cidrs",
    "source_access_log_provider",
    "origination_ca_certificates",
    "origination_credential_name",
    "waypoint_name",
    "waypoint_namespace",
    "waypoint_managed_by_platform",
    "istio_version",
    "cilium_version",
)


# Settings a mode migration may change along with the mode (what the ambient renderer reads).
MODE_FIELDS = ("waypoint_name", "waypoint_namespace", "waypoint_managed_by_platform", "istio_version", "cilium_version")


def cluster_snapshot(cluster: Cluster) -> dict:
    return {"name": cluster.name, **{field: getattr(cluster, field) for field in CLUSTER_FIELDS}}


def _check_files(cluster: Cluster, *, changed: set[str], actor: Actor) -> None:
    """File paths and kubeconfig files (see `cluster_files_problems`); `actor=None` is the operator
    on the command line, who may name any path on the server."""
    problems = cluster_files_problems(cluster, changed=changed, from_command_line=actor is None)
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(
            f"{first}: {problems[first]}", fields={field: [message] for field, message in problems.items()}
        )


def _require_admin(actor: Actor) -> None:
    if actor is not None and not can_manage_clusters(actor):
        raise PermissionDenied("Only platform admins can change clusters.")


@transaction.atomic
def cluster_create(*, actor: Actor, name: str, **fields: Any) -> Cluster:
    """Register a cluster. `actor=None` is allowed for automation run by an operator (commands)."""
    _require_admin(actor)
    unknown = set(fields) - set(CLUSTER_FIELDS)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "Unknown cluster setting.")
    cluster = Cluster(name=name, **fields)
    full_clean(cluster)
    _check_files(cluster, changed=set(fields), actor=actor)
    cluster.save()
    ClusterSyncState.objects.create(cluster=cluster, needs_reconcile=True)
    audit_event_record(
        event_type=AuditEventType.CLUSTER_CREATED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=cluster,
        cluster=cluster,
        after=cluster_snapshot(cluster),
    )
    cluster_mark_for_reconcile(cluster_ids=[cluster.pk], reason="cluster created")
    return cluster


@transaction.atomic
def cluster_update(*, cluster: Cluster, actor: Actor, **fields: Any) -> Cluster:
    """Change settings; a change to anything the renderer reads triggers a reconcile. Secret fields
    left empty keep their stored value (they are write-only: an empty form field means unchanged)."""
    _require_admin(actor)
    unknown = set(fields) - set(CLUSTER_FIELDS)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "Unknown cluster setting.")
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    before = cluster_snapshot(cluster)
    for field, value in fields.items():
        if field in Cluster.SECRET_FIELDS and value in (None, ""):
            continue
        setattr(cluster, field, value)
    full_clean(cluster)
    changed = _changed_since(before, cluster)
    if not changed:
        return cluster
    problem = cluster_mode_change_problem(cluster, before["enforcement_mode"]) if "enforcement_mode" in changed else ""
    if problem:
        raise ValidationFailed.on("enforcement_mode", problem)
    _check_files(cluster, changed=set(changed), actor=actor)
    _save_changes(cluster=cluster, actor=actor, before=before, reason="cluster settings changed")
    return cluster


def _changed_since(before: dict, cluster: Cluster) -> list[str]:
    """The fields of `cluster_snapshot` that differ from `before`, sorted."""
    after = cluster_snapshot(cluster)
    return sorted(field for field in after if after[field] != before[field])


def _save_changes(*, cluster: Cluster, actor: Actor, before: dict, reason: str, message: str = "") -> None:
    """Save the locked, cleaned cluster, record CLUSTER_UPDATED with the old and new values of what
    changed since the snapshot `before` (nothing else, so the event says what the change was), and
    queue a reconcile."""
    after = cluster_snapshot(cluster)
    changed = _changed_since(before, cluster)
    cluster.save()
    audit_event_record(
        event_type=AuditEventType.CLUSTER_UPDATED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=cluster,
        cluster=cluster,
        before={field: before[field] for field in changed},
        after={field: after[field] for field in changed},
        message=message,
    )
    cluster_mark_for_reconcile(cluster_ids=[cluster.pk], reason=reason)


def cluster_mode_change_problem(cluster: Cluster, old_mode: str) -> str:
    """Why a plain settings change may not change the cluster's mode, or "": a cluster holding objects
    changes mode only through the mode migration (`cluster_mode_migrate`), which says so in the audit
    log and replaces the objects in one reconcile."""
    count = ManagedObject.objects.filter(cluster_id=cluster.pk).count() if cluster.pk else 0
    if not count:
        return ""
    return (
        f"Cluster {cluster.name} holds {count} object(s) rendered in mode {old_mode}; change its mode with the "
        "mode migration (manage.py migrate_cluster_mode, docs/rendering.md), which replaces them in one reconcile."
    )


@transaction.atomic
def cluster_mode_migrate(*, cluster: Cluster, actor: Actor, mode: str, **fields: Any) -> Cluster:
    """Move a cluster that holds objects to another enforcement mode (docs/rendering.md, "Changing a
    cluster's mode"). Only the mode and the settings the new mode reads change here; the next
    reconcile renders the new mode's set, applies it (objects of the same kind and name, such as
    ServiceEntries and the namespaces' NetworkPolicies, are updated in place) and deletes what only
    the old mode had, all in one run. Audited with the objects the cluster held before."""
    _require_admin(actor)
    if mode not in EnforcementMode.values:
        raise ValidationFailed.on("enforcement_mode", f"Unknown enforcement mode {mode!r}.")
    unknown = set(fields) - set(MODE_FIELDS)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "Not a setting of the enforcement mode.")
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    if cluster.enforcement_mode == mode:
        raise ValidationFailed.on("enforcement_mode", f"Cluster {cluster.name} is already in mode {mode}.")
    before = cluster_snapshot(cluster)
    cluster.enforcement_mode = mode
    for field, value in fields.items():
        setattr(cluster, field, value)
    full_clean(cluster)
    held = ManagedObject.objects.filter(cluster=cluster).count()
    _save_changes(
        cluster=cluster,
        actor=actor,
        before=before,
        reason=f"enforcement mode migrated to {mode}",
        message=f"enforcement mode migrated from {before['enforcement_mode']} to {mode}; the next reconcile "
        f"replaces the {held} object(s) of the old mode",
    )
    return cluster


@transaction.atomic
def workload_identity_ensure(
    *, actor: Actor, namespace: Namespace, service_account: str, discovered: bool = False
) -> WorkloadIdentity:
    """Create the identity if missing. Team members may type in identities for their own namespaces;
    discovery (actor None) records what the cluster reports."""
    if actor is not None and not can_add_identity(actor, namespace):
        raise PermissionDenied(f"Namespace {namespace} belongs to team {namespace.team.slug}.")
    identity = WorkloadIdentity.objects.filter(namespace=namespace, service_account=service_account).first()
    if identity is not None:
        if discovered and not identity.discovered:
            identity.discovered = True
            identity.save(update_fields=["discovered"])
        return identity
    identity = WorkloadIdentity(namespace=namespace, service_account=service_account, discovered=discovered)
    full_clean(identity)
    identity.save()
    audit_event_record(
        event_type=AuditEventType.CONFIG_CREATED,
        actor=actor,
        actor_repr=None if actor else ("discovery" if discovered else "operator"),
        subject=identity,
        cluster=namespace.cluster,
        after={"identity": str(identity), "discovered": discovered},
    )
    return identity


IDENTITY_FIELDS = ("namespace", "service_account", "discovered")


@transaction.atomic
def workload_identity_update(*, identity: WorkloadIdentity, actor: Actor, **fields: Any) -> WorkloadIdentity:
    """Platform admins correct an identity; one that grants were issued for keeps its principal (the
    grants name it), so only its `discovered` flag may change then."""
    _require_admin(actor)
    principal = {"namespace", "service_account"} & set(fields)
    if principal and identity.grants.exists():
        moved = [name for name in sorted(principal) if fields[name] != getattr(identity, name)]
        if moved:
            raise ValidationFailed.on(moved[0], f"Grants were issued for {identity}; its principal cannot change.")
    return config_update(
        actor=actor, instance=identity, fields=fields, allowed=IDENTITY_FIELDS, cluster=identity.namespace.cluster
    )


@transaction.atomic
def workload_identity_delete(*, identity: WorkloadIdentity, actor: Actor) -> None:
    """Forget an identity; one that grants were issued for is refused (the grants keep it)."""
    _require_admin(actor)
    config_delete(actor=actor, instance=identity, fields=IDENTITY_FIELDS, cluster=identity.namespace.cluster)


@transaction.atomic
def cluster_delete(*, cluster: Cluster, actor: Actor) -> None:
    """Remove a cluster from egressui with its namespaces, identities and sync history. A cluster
    any grant was issued for is refused: the grants (and their audit trail) name it, and the objects
    egressui applied there would be left behind unmanaged — revoke and reconcile first."""
    _require_admin(actor)
    locked = Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
    if locked is None:
        return
    if locked.grants.exists():
        raise ValidationFailed(
            f"Cluster {locked.name} has grants; it cannot be deleted while they name it. "
            "Revoke them and let the reconciler remove its objects first."
        )
    config_delete(
        actor=actor,
        instance=locked,
        fields=("name", *CLUSTER_FIELDS),
        event_type=AuditEventType.CLUSTER_DELETED,
    )
