"""Writes on namespaces: onboarding (ownership), enforcement state, removal.

Every write renders differently (a namespace has a Sidecar, a Telemetry and, when enforced, a
NetworkPolicy of its own, with or without grants), so each one marks its cluster for a reconcile in
the same transaction as the change and its audit event.
"""

from django.db import transaction
from django.utils import timezone

from policies.actors import Actor
from policies.choices import AuditEventType, NamespaceEnforcement
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import Cluster, Grant, Namespace, Team
from policies.permissions import can_manage_clusters, enforcement_switch_denial
from policies.selectors.manifests import cluster_settings
from policies.services.audit import audit_event_record
from policies.services.config import full_clean
from policies.services.outbox import cluster_mark_for_reconcile

MAX_REASON_LENGTH = 2000


def _require_admin(actor: Actor) -> None:
    if actor is not None and not can_manage_clusters(actor):
        raise PermissionDenied("Only platform admins can onboard namespaces or change their owner.")


def _enforcement(value: str) -> str:
    if value not in NamespaceEnforcement.values:
        raise ValidationFailed.on(
            "enforcement", f"{str(value)[:40]!r} is not an enforcement state; use observe or enforce."
        )
    return value


def refuse_system_namespace(*, cluster: Cluster, name: str) -> None:
    """The egress gateway's, istiod's and DNS's namespaces are never locked down as a team's would be."""
    if name in cluster_settings(cluster).system_namespaces:
        raise ValidationFailed.on(
            "name",
            f"{name} is a system namespace of cluster {cluster.name} (egress gateway, istiod or DNS); "
            "it cannot be a team's namespace.",
        )


@transaction.atomic
def namespace_assign(
    *, actor: Actor, cluster: Cluster, name: str, team: Team, enforcement: str | None = None
) -> Namespace:
    """Record that `team` owns namespace `name` in `cluster` (create, or move ownership). A new
    namespace starts in the cluster's default state (observe unless the cluster says enforce), or in
    `enforcement` when the onboarding admin names one; an existing one keeps its state."""
    _require_admin(actor)
    refuse_system_namespace(cluster=cluster, name=name)
    namespace = Namespace.objects.select_for_update().filter(cluster=cluster, name=name).first()
    if namespace is not None and namespace.team_id == team.pk:
        return namespace
    before = {"team": namespace.team.slug} if namespace else None
    if namespace is None:
        state = _enforcement(enforcement or cluster.default_namespace_enforcement)
        namespace = Namespace(
            cluster=cluster, name=name, team=team, enforcement=state, enforcement_changed_at=timezone.now()
        )
    else:
        namespace.team = team
    full_clean(namespace)
    namespace.save()
    after = {"cluster": cluster.name, "namespace": name, "team": team.slug}
    if before is None:
        after["enforcement"] = namespace.enforcement
    audit_event_record(
        event_type=AuditEventType.CONFIG_UPDATED if before else AuditEventType.CONFIG_CREATED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=namespace,
        cluster=cluster,
        before=before,
        after=after,
    )
    if before is None:
        cluster_mark_for_reconcile(cluster_ids=[cluster.pk], reason=f"namespace {name} onboarded")
    return namespace


@transaction.atomic
def namespace_enforcement_set(*, namespace: Namespace, actor: Actor, enforcement: str, reason: str = "") -> Namespace:
    """Switch a namespace between observe and enforce. Enforcing is fail-closed from the next
    reconcile: only granted hosts leave. Going back to observe opens the namespace again, so it needs
    a reason, which the audit event keeps. The state, its audit event and the cluster's outbox mark
    commit together or not at all."""
    enforcement = _enforcement(enforcement)
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed.on("reason", f"Keep the reason under {MAX_REASON_LENGTH} characters.")
    namespace = Namespace.objects.select_for_update().select_related("cluster", "team").get(pk=namespace.pk)
    if actor is not None:
        denial = enforcement_switch_denial(actor, namespace, enforcement)
        if denial:
            raise PermissionDenied(denial)
    if namespace.enforcement == enforcement:
        label = NamespaceEnforcement(enforcement).label.lower()
        raise TransitionNotAllowed(f"Namespace {namespace.cluster.name}/{namespace.name} is already in {label}.")
    if enforcement == NamespaceEnforcement.OBSERVE and not reason:
        raise ValidationFailed.on(
            "reason", "Give a reason for going back to observe: the namespace's egress is no longer restricted."
        )
    before = {"enforcement": namespace.enforcement}
    namespace.enforcement = enforcement
    namespace.enforcement_changed_at = timezone.now()
    namespace.save(update_fields=["enforcement", "enforcement_changed_at"])
    audit_event_record(
        event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=namespace,
        cluster=namespace.cluster,
        before=before,
        after={"enforcement": enforcement, "team": namespace.team.slug},
        message=reason,
    )
    cluster_mark_for_reconcile(cluster_ids=[namespace.cluster_id], reason=f"namespace {namespace.name}: {enforcement}")
    return namespace


@transaction.atomic
def namespace_delete(*, namespace: Namespace, actor: Actor) -> None:
    """Forget a namespace (its objects leave the cluster on the next reconcile). Refused while grants
    exist for its identities: they are the audit trail of what was allowed."""
    _require_admin(actor)
    namespace = Namespace.objects.select_for_update().select_related("cluster", "team").get(pk=namespace.pk)
    if Grant.objects.filter(identity__namespace=namespace).exists():
        raise TransitionNotAllowed(
            f"Namespace {namespace.cluster.name}/{namespace.name} has grants; revoke them and keep the "
            "namespace, or move it to another team."
        )
    snapshot = {
        "cluster": namespace.cluster.name,
        "namespace": namespace.name,
        "team": namespace.team.slug,
        "enforcement": namespace.enforcement,
    }
    cluster, subject = namespace.cluster, ("namespace", namespace.pk, str(namespace))
    namespace.delete()
    audit_event_record(
        event_type=AuditEventType.CONFIG_DELETED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=subject,
        cluster=cluster,
        before=snapshot,
    )
    cluster_mark_for_reconcile(cluster_ids=[cluster.pk], reason=f"namespace {snapshot['namespace']} removed")
