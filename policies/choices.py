"""Enumerations, state groups and the allowed state transitions of the domain."""

from django.db import models


class Environment(models.TextChoices):
    PROD = "prod", "Production"
    NON_PROD = "non-prod", "Non-production"


class EnforcementMode(models.TextChoices):
    # Sidecars plus an egress gateway (reference §1–§6). Other modes are added when they are rendered.
    ISTIO = "istio", "Istio sidecars + egress gateway"
    # ztunnel plus an egress waypoint (reference §7; docs/rendering.md "istio-ambient").
    ISTIO_AMBIENT = "istio-ambient", "Istio ambient + egress waypoint"
    # CiliumNetworkPolicy toFQDNs per service account; Hubble flows for monitoring (docs/rendering.md).
    CILIUM = "cilium", "Cilium toFQDNs (no mesh)"


class NamespaceEnforcement(models.TextChoices):
    """What egressui does with a namespace's egress beyond its grants (docs/rollout.md)."""

    # Granted hosts go through the gateway; everything else passes and is logged at the source.
    OBSERVE = "observe", "Observe"
    # Fail-closed: only granted hosts leave (REGISTRY_ONLY Sidecar and an egress NetworkPolicy).
    ENFORCE = "enforce", "Enforce"


class InClusterEgress(models.TextChoices):
    """Whether an enforced namespace's lockdown also covers traffic to other pods of the cluster."""

    ALLOW = "allow", "Allow every pod of the cluster and the listed CIDRs"
    RESTRICT = "restrict", "Restrict to DNS, istiod and the egress gateway"


class EnforcementSwitchRole(models.TextChoices):
    """Who, besides platform admins, may switch a team's namespace (EGRESSUI_ENFORCEMENT_SWITCH_ROLE)."""

    APPROVER = "approver", "Approvers of the owning team"
    MEMBER = "member", "Members of the owning team"
    ADMIN = "admin", "Platform admins only"


class ConnectionKind(models.TextChoices):
    KUBECONFIG = "kubeconfig", "Kubeconfig file + context"
    IN_CLUSTER = "in-cluster", "In-cluster service account"
    TOKEN = "token", "API URL + CA + token"
    DIRECTORY = "directory", "GitOps directory"


class Protocol(models.TextChoices):
    TLS = "tls", "TLS (app speaks HTTPS/TLS, routed by SNI)"
    HTTP_ORIGINATE = "http-originate", "HTTP, gateway originates TLS"
    HTTP = "http", "Plain HTTP (clear text)"
    TCP = "tcp", "TCP to an IP or CIDR"


PROTOCOL_HELP = {
    Protocol.TLS: "The app speaks TLS itself (https://…); the gateway routes it by SNI (on Cilium clusters: "
    "allowed by the name it looks up). The default.",
    Protocol.HTTP_ORIGINATE: "The app sends plain HTTP to port 80; the gateway upgrades it to TLS on 443. "
    "Not on Cilium clusters, which have no gateway to do it.",
    Protocol.HTTP: "Plain HTTP end to end: headers and payload leave the cluster unencrypted.",
    Protocol.TCP: "Raw TCP to a fixed IP address or CIDR range, for non-HTTP services.",
}


class TeamRole(models.TextChoices):
    MEMBER = "member", "Member"
    APPROVER = "approver", "Approver"


class RequestStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Pending approval"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


EDITABLE_REQUEST_STATES = frozenset({RequestStatus.DRAFT, RequestStatus.CHANGES_REQUESTED})
OPEN_REQUEST_STATES = frozenset({RequestStatus.DRAFT, RequestStatus.SUBMITTED, RequestStatus.CHANGES_REQUESTED})

# The state machines: every status change is one of these, made by `services.transitions.transition`
# (which checks it, sets it and audits it). A request starts as a draft (break-glass: submitted, then
# approved at once); a step waiting or pending; a grant active.
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.DRAFT: frozenset({RequestStatus.SUBMITTED, RequestStatus.CANCELLED}),
    RequestStatus.SUBMITTED: frozenset(
        {RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CHANGES_REQUESTED, RequestStatus.CANCELLED}
    ),
    RequestStatus.CHANGES_REQUESTED: frozenset({RequestStatus.SUBMITTED, RequestStatus.CANCELLED}),
    RequestStatus.APPROVED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for an earlier step"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    CANCELLED = "cancelled", "Cancelled"


STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    StepStatus.WAITING: frozenset({StepStatus.PENDING, StepStatus.CANCELLED}),
    StepStatus.PENDING: frozenset(
        {StepStatus.APPROVED, StepStatus.REJECTED, StepStatus.CHANGES_REQUESTED, StepStatus.CANCELLED}
    ),
    StepStatus.APPROVED: frozenset(),
    StepStatus.REJECTED: frozenset(),
    StepStatus.CHANGES_REQUESTED: frozenset(),
    StepStatus.CANCELLED: frozenset(),
}


def transition_allowed(table: dict[str, frozenset[str]], current: str, target: str) -> bool:
    return target in table.get(current, frozenset())


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class RuleOutcome(models.TextChoices):
    AUTO_APPROVE = "auto_approve", "Approve automatically"
    DENY = "deny", "Deny with a reason"
    REQUIRE_STEPS = "require_steps", "Require approval steps"


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    # Ended because a later approval granted the same identity and destination again (a renewal).
    SUPERSEDED = "superseded", "Superseded"


GRANT_TRANSITIONS: dict[str, frozenset[str]] = {
    GrantStatus.ACTIVE: frozenset({GrantStatus.EXPIRED, GrantStatus.REVOKED, GrantStatus.SUPERSEDED}),
    GrantStatus.EXPIRED: frozenset(),
    GrantStatus.REVOKED: frozenset(),
    GrantStatus.SUPERSEDED: frozenset(),
}


class AppliedState(models.TextChoices):
    PENDING = "pending", "Waiting to be applied"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    REMOVED = "removed", "Removed from the cluster"


class ClusterStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not reconciled yet"
    READY = "ready", "Ready"
    DEGRADED = "degraded", "Degraded"


class AccessVerdict(models.TextChoices):
    """What the egress gateway did with one connection, read from its access log (reference §8)."""

    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied by policy"
    NO_ROUTE = "no_route", "No route / not registered"
    UPSTREAM_FAILURE = "upstream_failure", "Upstream failure"
    # Logged by a workload's own sidecar (reference §6.1): its catch-all clusters.
    OBSERVED = "observed", "Observed, unregistered"  # PassthroughCluster: left directly, not via the gateway
    BLOCKED_AT_SOURCE = "blocked_at_source", "Blocked at source"  # BlackHoleCluster: refused in the pod


# Blocked attempts are what a denied-attempts page lists; used verdicts passed the gateway's policy
# (an upstream failure still means the grant let the connection through). Observed connections were
# neither: they bypassed the gateway in a namespace that is only observed.
BLOCKED_VERDICTS = frozenset({AccessVerdict.DENIED, AccessVerdict.NO_ROUTE, AccessVerdict.BLOCKED_AT_SOURCE})
# Connections that reached the pod's catch-all: what a namespace's readiness page is made of.
CATCH_ALL_VERDICTS = frozenset({AccessVerdict.OBSERVED, AccessVerdict.BLOCKED_AT_SOURCE})
USED_VERDICTS = frozenset({AccessVerdict.ALLOWED, AccessVerdict.UPSTREAM_FAILURE})


class AuditEventType(models.IntegerChoices):
    """Numbered in ranges per domain, with gaps left for new events; numbers are stored, never reused."""

    # 100–199 egress requests
    REQUEST_CREATED = 100, "request.created"
    REQUEST_UPDATED = 101, "request.updated"
    REQUEST_SUBMITTED = 102, "request.submitted"
    REQUEST_CANCELLED = 103, "request.cancelled"
    REQUEST_APPROVED = 104, "request.approved"
    REQUEST_REJECTED = 105, "request.rejected"
    REQUEST_CHANGES_REQUESTED = 106, "request.changes_requested"
    REQUEST_AUTO_APPROVED = 107, "request.auto_approved"
    REQUEST_DENIED_BY_RULE = 108, "request.denied_by_rule"
    REQUEST_COMMENTED = 109, "request.commented"
    # 200–299 approval steps
    STEP_DECISION = 200, "approval.decision"
    STEP_APPROVED = 201, "approval.step_approved"
    # 300–399 grants
    GRANT_CREATED = 300, "grant.created"
    GRANT_REVOKED = 301, "grant.revoked"
    GRANT_EXPIRED = 302, "grant.expired"
    GRANT_BREAK_GLASS = 303, "grant.break_glass"
    GRANT_SUPERSEDED = 304, "grant.superseded"
    GRANT_APPLIED_STATE = 305, "grant.applied_state"
    # 400–499 clusters and reconciliation
    CLUSTER_CREATED = 400, "cluster.created"
    CLUSTER_UPDATED = 401, "cluster.updated"
    CLUSTER_DELETED = 402, "cluster.deleted"
    CLUSTER_RECONCILE_REQUESTED = 410, "cluster.reconcile_requested"
    OBJECT_CREATED = 420, "object.created"
    OBJECT_UPDATED = 421, "object.updated"
    OBJECT_DELETED = 422, "object.deleted"
    OBJECT_DRIFT_REPAIRED = 423, "object.drift_repaired"
    OBJECT_FAILED = 424, "object.failed"
    RECONCILE_FINISHED = 430, "reconcile.finished"
    # 500–599 teams, namespaces, identities, rules (admin configuration)
    CONFIG_CREATED = 500, "config.created"
    CONFIG_UPDATED = 501, "config.updated"
    CONFIG_DELETED = 502, "config.deleted"
    NAMESPACE_ENFORCEMENT_CHANGED = 510, "namespace.enforcement_changed"
    # 600–699 API tokens and access
    TOKEN_CREATED = 600, "token.created"
    TOKEN_REVOKED = 601, "token.revoked"
    INGEST_TOKEN_ROTATED = 602, "ingest_token.rotated"
    SIGN_IN_LOCKED_OUT = 610, "auth.locked_out"
    # Accounts and groups: who is a platform admin, who may sign in (config.* before this wave).
    ACCOUNT_CREATED = 620, "account.created"
    ACCOUNT_UPDATED = 621, "account.updated"
    ACCOUNT_GROUPS_CHANGED = 622, "account.groups_changed"
    ACCOUNT_PASSWORD_CHANGED = 623, "account.password_changed"
    ACCOUNT_DELETED = 624, "account.deleted"
    GROUP_CREATED = 630, "group.created"
    GROUP_UPDATED = 631, "group.updated"
    GROUP_DELETED = 632, "group.deleted"
    # 900–999 system
    ENCRYPTION_KEY_ROTATED = 900, "system.encryption_key_rotated"


# What people read in timelines and on the audit page; the dotted names above stay the stored,
# exported and filtered identifiers.
AUDIT_EVENT_LABELS: dict[int, str] = {
    AuditEventType.REQUEST_CREATED: "Request created",
    AuditEventType.REQUEST_UPDATED: "Request edited",
    AuditEventType.REQUEST_SUBMITTED: "Submitted for approval",
    AuditEventType.REQUEST_CANCELLED: "Request cancelled",
    AuditEventType.REQUEST_APPROVED: "Request approved",
    AuditEventType.REQUEST_REJECTED: "Request rejected",
    AuditEventType.REQUEST_CHANGES_REQUESTED: "Sent back for changes",
    AuditEventType.REQUEST_AUTO_APPROVED: "Approved by a rule",
    AuditEventType.REQUEST_DENIED_BY_RULE: "Denied by a rule",
    AuditEventType.REQUEST_COMMENTED: "Comment",
    AuditEventType.STEP_DECISION: "Decision recorded",
    AuditEventType.STEP_APPROVED: "Approval step complete",
    AuditEventType.GRANT_CREATED: "Grant created",
    AuditEventType.GRANT_REVOKED: "Grant revoked",
    AuditEventType.GRANT_EXPIRED: "Grant expired",
    AuditEventType.GRANT_BREAK_GLASS: "Break-glass grant created",
    AuditEventType.GRANT_SUPERSEDED: "Grant superseded",
    AuditEventType.GRANT_APPLIED_STATE: "State in the cluster changed",
    AuditEventType.CLUSTER_CREATED: "Cluster registered",
    AuditEventType.CLUSTER_UPDATED: "Cluster settings changed",
    AuditEventType.CLUSTER_DELETED: "Cluster removed",
    AuditEventType.CLUSTER_RECONCILE_REQUESTED: "Reconcile requested",
    AuditEventType.OBJECT_CREATED: "Object created in the cluster",
    AuditEventType.OBJECT_UPDATED: "Object updated in the cluster",
    AuditEventType.OBJECT_DELETED: "Object removed from the cluster",
    AuditEventType.OBJECT_DRIFT_REPAIRED: "Drift repaired",
    AuditEventType.OBJECT_FAILED: "Object could not be applied",
    AuditEventType.RECONCILE_FINISHED: "Reconcile finished",
    AuditEventType.CONFIG_CREATED: "Configuration added",
    AuditEventType.CONFIG_UPDATED: "Configuration changed",
    AuditEventType.CONFIG_DELETED: "Configuration removed",
    AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED: "Namespace switched between observe and enforce",
    AuditEventType.TOKEN_CREATED: "API token created",
    AuditEventType.TOKEN_REVOKED: "API token revoked",
    AuditEventType.INGEST_TOKEN_ROTATED: "Ingest token replaced",
    AuditEventType.SIGN_IN_LOCKED_OUT: "Sign-in locked out",
    AuditEventType.ACCOUNT_CREATED: "Account created",
    AuditEventType.ACCOUNT_UPDATED: "Account changed",
    AuditEventType.ACCOUNT_GROUPS_CHANGED: "Account's groups changed",
    AuditEventType.ACCOUNT_PASSWORD_CHANGED: "Password set",
    AuditEventType.ACCOUNT_DELETED: "Account deleted",
    AuditEventType.GROUP_CREATED: "Group created",
    AuditEventType.GROUP_UPDATED: "Group changed",
    AuditEventType.GROUP_DELETED: "Group deleted",
    AuditEventType.ENCRYPTION_KEY_ROTATED: "Encryption key rotated",
}
