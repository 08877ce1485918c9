from policies.models.approvals import ApprovalDecision, ApprovalRule, ApprovalRuleStep, ApprovalStep, DomainList
from policies.models.audit import AppendOnlyError, AuditChainHead, AuditEvent
from policies.models.clusters import Cluster, ClusterSyncState, Namespace, WorkloadIdentity
from policies.models.grants import Grant
from policies.models.idempotency import IdempotencyRecord
from policies.models.monitoring import AccessRecord, ClusterIngestState, UnusedGrantNotice
from policies.models.reconcile import ManagedObject, ReconcileLease, ReconcileObjectResult, ReconcileRun
from policies.models.requests import EgressRequest, RequestDestination
from policies.models.teams import Team, TeamMembership
from policies.models.tokens import ApiToken

__all__ = [
    "AccessRecord",
    "ApiToken",
    "AppendOnlyError",
    "ApprovalDecision",
    "ApprovalRule",
    "ApprovalRuleStep",
    "ApprovalStep",
    "AuditChainHead",
    "AuditEvent",
    "Cluster",
    "ClusterIngestState",
    "ClusterSyncState",
    "DomainList",
    "EgressRequest",
    "Grant",
    "IdempotencyRecord",
    "ManagedObject",
    "Namespace",
    "ReconcileLease",
    "ReconcileObjectResult",
    "ReconcileRun",
    "RequestDestination",
    "Team",
    "TeamMembership",
    "UnusedGrantNotice",
    "WorkloadIdentity",
]
