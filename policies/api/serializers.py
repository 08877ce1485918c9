"""Input and output shapes of the API. Output serializers read only what the list selectors load
(no query per row) and never include secrets; input serializers check types and sizes, and leave
the domain rules to the services so the UI and the API report them identically."""

from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.api.filtering import contains_nul
from policies.api.monitoring import IngestStateSerializer
from policies.api.strict import InputSerializer, RejectUnknownFields
from policies.audit_export import AUDIT_COLUMNS
from policies.choices import ClusterStatus, EnforcementMode, Protocol
from policies.constants import (
    DEFAULT_PORT,
    MAX_DESTINATIONS_PER_REQUEST,
    MAX_EXPANDED_HOSTS,
    MAX_IDENTITIES_PER_REQUEST,
    SYNC_DETAILS_HIDDEN,
)
from policies.grant_key import destination_key
from policies.models import (
    ApiToken,
    ApprovalDecision,
    ApprovalStep,
    AuditEvent,
    Cluster,
    EgressRequest,
    Grant,
    ReconcileObjectResult,
    ReconcileRun,
    RequestDestination,
    Team,
    WorkloadIdentity,
)
from policies.permissions import can_see_cluster_errors
from policies.redaction import url_without_credentials
from policies.selectors.existing_access import existing_access_of_requests
from policies.selectors.requests import (
    current_round_steps,
    pending_step,
    request_clusters,
    request_risk_flags,
)
from policies.services.clusters import CLUSTER_FIELDS
from policies.services.teams import TEAM_FIELDS
from policies.services.tokens import MAX_TOKEN_DAYS

# --- teams ------------------------------------------------------------------------------------------


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()


class TeamSerializer(serializers.ModelSerializer):
    members = MemberSerializer(source="memberships", many=True, read_only=True)
    webhook_host = serializers.SerializerMethodField(help_text="Host of the webhook URL (the URL may hold a secret).")

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "description", "email", "oidc_group", "webhook_host", "members", "created_at"]

    def get_webhook_host(self, team) -> str:
        return urlsplit(team.webhook_url).hostname or ""


class TeamWriteSerializer(RejectUnknownFields, serializers.ModelSerializer):
    webhook_secret = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text="Write-only; empty keeps the stored value."
    )

    class Meta:
        model = Team
        fields = ["slug", *TEAM_FIELDS]


class TeamUpdateSerializer(TeamWriteSerializer):
    fixed_fields = {"slug": "A team's slug cannot be changed: requests, grants and rules refer to it."}

    class Meta(TeamWriteSerializer.Meta):
        fields = list(TEAM_FIELDS)


# --- clusters, identities ---------------------------------------------------------------------------


class SyncStateSerializer(serializers.Serializer):
    """Error texts and status details only for platform admins (`can_see_cluster_errors`); others
    read that a sync failed."""

    status = serializers.CharField()
    status_message = serializers.CharField()
    needs_reconcile = serializers.BooleanField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not can_see_cluster_errors(request.user):
            failed = bool(data["last_error"]) or data["status"] == ClusterStatus.DEGRADED
            data["status_message"] = SYNC_DETAILS_HIDDEN if failed else ""
            data["last_error"] = SYNC_DETAILS_HIDDEN if data["last_error"] else ""
        return data


_CLUSTER_PUBLIC_FIELDS = [field for field in CLUSTER_FIELDS if field not in Cluster.SECRET_FIELDS]


class ClusterSerializer(serializers.ModelSerializer):
    """Connection secrets are never output; `has_*` says whether one is stored."""

    api_url = serializers.SerializerMethodField(help_text="Without any credentials, query or fragment.")
    has_kubeconfig = serializers.BooleanField(read_only=True)
    has_ca_cert = serializers.BooleanField(read_only=True)
    has_token = serializers.BooleanField(read_only=True)
    sync = SyncStateSerializer(read_only=True, allow_null=True)
    ingest = IngestStateSerializer(read_only=True, allow_null=True, help_text="The access-log feed (null: none yet).")

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            *_CLUSTER_PUBLIC_FIELDS,
            "has_kubeconfig",
            "has_ca_cert",
            "has_token",
            "sync",
            "ingest",
            "created_at",
            "updated_at",
        ]

    def get_api_url(self, cluster) -> str:
        return url_without_credentials(cluster.api_url)


class ClusterWriteSerializer(RejectUnknownFields, serializers.ModelSerializer):
    kubeconfig = serializers.CharField(required=False, allow_blank=True, write_only=True)
    ca_cert = serializers.CharField(required=False, allow_blank=True, write_only=True)
    token = serializers.CharField(required=False, allow_blank=True, write_only=True)

    class Meta:
        model = Cluster
        fields = ["name", *CLUSTER_FIELDS]

    def validate(self, attrs):
        bad = {name: ["Null characters are not allowed."] for name, value in attrs.items() if contains_nul(value)}
        if bad:
            raise serializers.ValidationError(bad)
        return attrs


class ClusterUpdateSerializer(ClusterWriteSerializer):
    """The name is fixed: it is in every object's labels, renaming would orphan them."""

    fixed_fields = {"name": "A cluster's name cannot be changed: it is in the labels of every object it holds."}

    class Meta(ClusterWriteSerializer.Meta):
        fields = list(CLUSTER_FIELDS)


class IdentitySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True, help_text="cluster/namespace/service-account")
    cluster = serializers.CharField(source="namespace.cluster.name", read_only=True)
    namespace = serializers.CharField(source="namespace.name", read_only=True)
    team = serializers.CharField(source="namespace.team.slug", read_only=True)
    principal = serializers.CharField(read_only=True)

    class Meta:
        model = WorkloadIdentity
        fields = ["id", "name", "cluster", "namespace", "team", "service_account", "principal", "discovered"]


class IdentityRefSerializer(IdentitySerializer):
    class Meta(IdentitySerializer.Meta):
        fields = ["id", "name", "cluster", "namespace", "service_account"]


class IdentityCreateSerializer(InputSerializer):
    cluster = serializers.CharField(max_length=63)
    namespace = serializers.CharField(max_length=63)
    service_account = serializers.CharField(max_length=253)


# --- requests ---------------------------------------------------------------------------------------


class DestinationSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestDestination
        fields = ["host", "port", "protocol", "expanded_hosts", "tcp_direct"]


class StepSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")

    class Meta:
        model = ApprovalStep
        fields = ["round", "position", "name", "team", "required_approvals", "status", "decided_at"]


class DecisionSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user_repr")
    step = serializers.CharField(source="step.name")

    class Meta:
        model = ApprovalDecision
        fields = ["round", "step", "user", "decision", "comment", "created_at"]


_DATETIME = serializers.DateTimeField()


def datetime_data(value) -> str | None:
    return _DATETIME.to_representation(value) if value is not None else None


def step_data(step: ApprovalStep) -> dict:
    return {
        "round": step.round,
        "position": step.position,
        "name": step.name,
        "team": step.team.slug,
        "required_approvals": step.required_approvals,
        "status": step.status,
        "decided_at": datetime_data(step.decided_at),
    }


class RequestSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    requester = serializers.CharField(source="requester.username")
    identities = IdentityRefSerializer(many=True)
    destinations = DestinationSerializer(many=True)
    steps = serializers.SerializerMethodField(help_text="Approval steps of the current submission round.")
    current_step = serializers.SerializerMethodField(help_text="The step waiting for a decision, if any.")
    clusters = serializers.SerializerMethodField()
    risk_flags = serializers.SerializerMethodField()
    renewal_of = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True, help_text="Grant it renews.")

    class Meta:
        model = EgressRequest
        fields = [
            "id",
            "team",
            "requester",
            "status",
            "justification",
            "ticket_url",
            "duration_days",
            "identities",
            "destinations",
            "clusters",
            "risk_flags",
            "round",
            "steps",
            "current_step",
            "decision_reason",
            "break_glass",
            "renewal_of",
            "submitted_at",
            "decided_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, request) -> list[dict]:
        return [step_data(step) for step in current_round_steps(request)]

    @extend_schema_field(StepSerializer(allow_null=True))
    def get_current_step(self, request) -> dict | None:
        step = pending_step(request)
        return step_data(step) if step else None

    def get_clusters(self, request) -> list[str]:
        return [cluster.name for cluster in request_clusters(request)]

    def get_risk_flags(self, request) -> list[str]:
        return request_risk_flags(request)


class AllowedActionsSerializer(serializers.Serializer):
    edit = serializers.BooleanField()
    submit = serializers.BooleanField()
    cancel = serializers.BooleanField()
    approve = serializers.BooleanField()
    reject = serializers.BooleanField()
    request_changes = serializers.BooleanField()


class ExistingAccessSerializer(serializers.Serializer):
    identity = serializers.CharField(help_text="cluster/namespace/service-account")
    host = serializers.CharField()
    port = serializers.IntegerField()
    protocol = serializers.CharField()
    grant = serializers.IntegerField(
        source="grant_id", allow_null=True, help_text="The active grant approving this request replaces."
    )
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When that grant expires.")
    request = serializers.IntegerField(
        source="request_id", allow_null=True, help_text="Another open request asking for the same."
    )
    request_status = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


def existing_access_data(request, document: dict | None = None) -> list:
    """The `existing_access` warnings of one request (none for a decided request): two queries, plus
    two for its identities and destinations unless its API `document` (which lists them) is given."""
    pairs_of = None
    if document is not None:
        destinations = [destination_key(d) for d in document["destinations"]]
        pairs_of = {request.pk: {(i["id"], *d) for i in document["identities"] for d in destinations}}
    found = existing_access_of_requests([request], pairs_of=pairs_of)
    return ExistingAccessSerializer(found[request.pk], many=True).data


class RequestDetailSerializer(RequestSerializer):
    decisions = DecisionSerializer(many=True)
    grants = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField(help_text="What the calling user may do now.")
    existing_access = serializers.SerializerMethodField(
        help_text="Warnings, not errors: per identity and destination of this request, the active grant it "
        "would replace and other open requests asking for the same."
    )

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "decisions", "grants", "allowed_actions", "existing_access"]

    @extend_schema_field(AllowedActionsSerializer)
    def get_allowed_actions(self, request) -> dict:
        return self.context["allowed_actions"]

    @extend_schema_field(ExistingAccessSerializer(many=True))
    def get_existing_access(self, request) -> list:
        return existing_access_data(request)

    def to_representation(self, request) -> dict:
        return {
            **super().to_representation(request),
            "decisions": DecisionSerializer(request.decisions.all(), many=True).data,
            "grants": [grant.pk for grant in request.grants.all()],
            "allowed_actions": self.get_allowed_actions(request),
            "existing_access": self.get_existing_access(request),
        }


class DestinationInputSerializer(InputSerializer):
    host = serializers.CharField(max_length=300, help_text="api.example.com, *.example.com, or an IP/CIDR for tcp.")
    port = serializers.IntegerField(
        min_value=1, max_value=65535, default=DEFAULT_PORT, help_text="Default 443, as in the UI."
    )
    protocol = serializers.ChoiceField(choices=Protocol.choices, default=Protocol.TLS)
    expanded_hosts = serializers.ListField(
        child=serializers.CharField(max_length=300),
        max_length=MAX_EXPANDED_HOSTS,
        default=list,
        help_text="Wildcards only: the concrete hosts it will be used for.",
    )
    tcp_direct = serializers.BooleanField(default=False, help_text="tcp only: bypass the gateway (exception).")


class RequestInputSerializer(InputSerializer):
    team = serializers.CharField(max_length=63, help_text="Team slug.")
    identities = serializers.ListField(
        child=serializers.CharField(max_length=400),
        max_length=MAX_IDENTITIES_PER_REQUEST,
        help_text='Workload identities as "cluster/namespace/service-account".',
    )
    destinations = DestinationInputSerializer(many=True, max_length=MAX_DESTINATIONS_PER_REQUEST)
    justification = serializers.CharField(max_length=5000, allow_blank=True)
    ticket_url = serializers.CharField(max_length=500, allow_blank=True, default="")
    duration_days = serializers.IntegerField(
        min_value=1, max_value=settings.EGRESSUI_MAX_GRANT_DAYS, required=False, allow_null=True
    )


class RequestCreateSerializer(RequestInputSerializer):
    submit = serializers.BooleanField(default=False, help_text="Submit for approval at once.")


class RequestUpdateSerializer(RequestInputSerializer):
    team = serializers.CharField(max_length=63, required=False, help_text="Cannot change; optional.")
    submit = serializers.BooleanField(default=False, help_text="Submit the edited request in the same call.")


class CommentSerializer(InputSerializer):
    comment = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")


class RequiredCommentSerializer(InputSerializer):
    comment = serializers.CharField(max_length=5000, allow_blank=True, help_text="Why; shown to the requester.")


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")


class RequiredReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=5000, allow_blank=True)


class ObjectChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["add", "change", "remove"])
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    before = serializers.JSONField(allow_null=True, help_text="The object now (null when added).")
    after = serializers.JSONField(allow_null=True, help_text="The object after approval (null when removed).")
    diff = serializers.CharField(help_text="Unified diff of the two YAML texts.")


class UnrenderableSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    service_account = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField()
    protocol = serializers.CharField()
    reason = serializers.CharField()


class ObjectVerdictSerializer(serializers.Serializer):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    accepted = serializers.BooleanField()
    message = serializers.CharField(help_text="Why the API server refused it (egressui's text; empty if accepted).")


class ServerCheckSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["accepted", "rejected", "unchecked", "skipped"],
        help_text="The API server's dry-run verdict: accepted, rejected, unchecked (unreachable, too slow, "
        "throttled) or skipped (a GitOps directory has no API server).",
    )
    message = serializers.CharField()
    objects = ObjectVerdictSerializer(many=True, help_text="One verdict per object sent.")


class ClusterPreviewSerializer(serializers.Serializer):
    cluster_id = serializers.IntegerField()
    cluster = serializers.CharField(source="cluster_name")
    added = ObjectChangeSerializer(many=True)
    changed = ObjectChangeSerializer(many=True)
    removed = ObjectChangeSerializer(many=True)
    unchanged = serializers.IntegerField(help_text="Objects the request leaves as they are.")
    annotation_only = ObjectChangeSerializer(
        many=True,
        help_text="Objects whose only change is egressui's bookkeeping annotations (the grants they serve, the "
        "content hash): no effective change, as when a request renews an active grant.",
    )
    unrenderable = UnrenderableSerializer(many=True, help_text="The request's grants that would produce nothing.")
    masked = serializers.BooleanField(
        help_text="Other teams' principals, namespaces and grant ids in shared objects are replaced by counts "
        "(everyone but the request's approvers and platform admins)."
    )
    server_check = ServerCheckSerializer(
        allow_null=True,
        help_text="Request previews: the objects to add or change, sent to the cluster's API server with "
        "dryRun=All and strict field validation (null when nothing is added or changed).",
    )


class RequestPreviewSerializer(serializers.Serializer):
    request = serializers.IntegerField()
    clusters = ClusterPreviewSerializer(many=True)


# --- grants -----------------------------------------------------------------------------------------


class GrantSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    cluster = serializers.CharField(source="cluster.name")
    identity = IdentityRefSerializer()
    ended_by = serializers.CharField(source="ended_by.username", allow_null=True, default=None)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Last connection the grant let through (access log); see usage/."
    )

    class Meta:
        model = Grant
        fields = [
            "id",
            "request",
            "team",
            "cluster",
            "identity",
            "host",
            "port",
            "protocol",
            "expanded_hosts",
            "tcp_direct",
            "break_glass",
            "status",
            "valid_from",
            "expires_at",
            "ended_at",
            "ended_by",
            "end_reason",
            "superseded_by",
            "applied_state",
            "applied_at",
            "applied_message",
            "last_used_at",
            "created_at",
        ]


# --- reconcile --------------------------------------------------------------------------------------


class ReconcileRunSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = ReconcileRun
        fields = [
            "id",
            "cluster",
            "trigger",
            "dry_run",
            "outcome",
            "started_at",
            "finished_at",
            "desired_hash",
            "created",
            "updated",
            "deleted",
            "unchanged",
            "failed",
            "summary",
            "error",
            "correlation_id",
        ]


class ReconcileObjectResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconcileObjectResult
        fields = ["api_version", "kind", "namespace", "name", "action", "drift", "message"]


class ReconcileRunDetailSerializer(ReconcileRunSerializer):
    results = ReconcileObjectResultSerializer(many=True)

    class Meta(ReconcileRunSerializer.Meta):
        fields = [*ReconcileRunSerializer.Meta.fields, "results"]


class ManifestListSerializer(serializers.Serializer):
    """A Kubernetes `List`, so the JSON can be fed to `kubectl apply -f -` as it is."""

    apiVersion = serializers.CharField(default="v1")  # noqa: N815 (Kubernetes field name)
    kind = serializers.CharField(default="List")
    items = serializers.ListField(child=serializers.JSONField(), help_text="Desired objects, in apply order.")


class ClusterModeMigrateSerializer(InputSerializer):
    """The new mode and the settings it reads (`docs/rendering.md`, "Changing a cluster's mode")."""

    enforcement_mode = serializers.ChoiceField(choices=EnforcementMode.choices)
    waypoint_name = serializers.CharField(required=False, max_length=63)
    waypoint_namespace = serializers.CharField(required=False, allow_blank=True, max_length=63)
    waypoint_managed_by_platform = serializers.BooleanField(required=False)
    istio_version = serializers.CharField(required=False, allow_blank=True, max_length=16)

    def validate(self, attrs):
        bad = {name: ["Null characters are not allowed."] for name, value in attrs.items() if contains_nul(value)}
        if bad:
            raise serializers.ValidationError(bad)
        return attrs


class ReconcileQueuedSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    run = ReconcileRunSerializer()


# --- audit ------------------------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event_name", help_text="e.g. request.approved")
    actor = serializers.CharField(source="actor_repr")
    subject = serializers.CharField(source="subject_repr")
    request = serializers.IntegerField(source="egress_request_id", allow_null=True)
    cluster = serializers.IntegerField(source="cluster_id", allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)

    class Meta:
        model = AuditEvent
        fields = list(AUDIT_COLUMNS)  # the exports' columns, in their order


class ChainReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField(help_text="Events verified.")
    head_hash = serializers.CharField()
    first_broken_seq = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


# --- tokens -----------------------------------------------------------------------------------------


class TokenSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "read_only",
            "expires_at",
            "last_used_at",
            "created_at",
            "revoked_at",
            "active",
        ]

    def get_active(self, token) -> bool:
        return token.is_usable()


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        allow_null=True, help_text="The secret, shown only in this response (null when an idempotent retry replays it)."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    read_only = serializers.BooleanField(default=False)
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=MAX_TOKEN_DAYS, required=False, allow_null=True, help_text="Default: never expires."
    )
