"""Shapes of the namespace endpoints: a namespace and its state, its readiness (what its sidecars saw
at their catch-all), the preview of a switch, the switch itself and the per-cluster overview."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.api.monitoring import IDENTITY_HELP, RequestPrefillSerializer, identity_name
from policies.api.serializers import ClusterPreviewSerializer
from policies.api.strict import InputSerializer
from policies.choices import NamespaceEnforcement
from policies.models import Namespace
from policies.permissions import enforcement_switch_denial


class NamespaceSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    team = serializers.CharField(source="team.slug")
    grant_count = serializers.IntegerField(read_only=True, help_text="Grants in force for its identities.")
    can_switch_enforcement = serializers.SerializerMethodField(
        help_text="Whether the caller may switch it (EGRESSUI_ENFORCEMENT_SWITCH_ROLE)."
    )

    class Meta:
        model = Namespace
        fields = [
            "id",
            "cluster",
            "name",
            "team",
            "enforcement",
            "enforcement_changed_at",
            "grant_count",
            "can_switch_enforcement",
        ]

    def get_can_switch_enforcement(self, namespace) -> bool:
        return enforcement_switch_denial(self.context["request"].user, namespace) is None


class EnforcementSwitchSerializer(InputSerializer):
    enforcement = serializers.ChoiceField(choices=NamespaceEnforcement.choices)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Required to go back to observe (egress is no longer restricted); kept in the audit log.",
    )


class ReadinessQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, required=False)


class PreviewQuerySerializer(ReadinessQuerySerializer):
    enforcement = serializers.ChoiceField(
        choices=NamespaceEnforcement.choices, help_text="The state to preview (the other one than now)."
    )


class SourceIdentitySerializer(serializers.Serializer):
    service_account = serializers.CharField()
    principal = serializers.CharField()
    identity = serializers.SerializerMethodField(help_text=IDENTITY_HELP)
    count = serializers.IntegerField()
    last_seen = serializers.DateTimeField()
    granted_by = serializers.IntegerField(allow_null=True, help_text="The grant in force that covers it by now.")

    def get_identity(self, row) -> str | None:
        namespace = self.context["namespace"]
        registered = row.identity_id is not None
        return identity_name(namespace.cluster.name, namespace.name, row.service_account, registered)


class ObservedDestinationSerializer(serializers.Serializer):
    host = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    protocol = serializers.CharField(help_text="tls (seen by SNI), http (by HTTP host) or tcp (address only).")
    count = serializers.IntegerField()
    observed = serializers.IntegerField(help_text="Connections that passed by the gateway (observed namespace).")
    blocked_at_source = serializers.IntegerField(source="blocked", help_text="Refused in the pod (enforced).")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    granted = serializers.BooleanField(help_text="Every identity that used it is covered by a grant now.")
    in_cluster = serializers.BooleanField(help_text="A cluster-internal destination: not an egress request.")
    identities = SourceIdentitySerializer(many=True)
    request_body = serializers.SerializerMethodField(
        help_text="A body for POST /api/v1/requests/ (add a justification)."
    )

    @extend_schema_field(RequestPrefillSerializer(allow_null=True))
    def get_request_body(self, row):
        if not row.requestable:
            return None
        namespace = self.context["namespace"]
        identities = [
            f"{namespace.cluster.name}/{namespace.name}/{identity.service_account}"
            for identity in row.identities
            if not identity.granted_by and identity.service_account != "?"
        ]
        return {"team": namespace.team.slug, "identities": identities, "destinations": [row.destination]}


class ReadinessSerializer(serializers.Serializer):
    namespace = serializers.IntegerField(source="namespace.pk")
    enforcement = serializers.CharField(source="namespace.enforcement")
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    source_log = serializers.BooleanField(help_text="The cluster renders the sidecars' catch-all access log.")
    feed_fresh = serializers.BooleanField(help_text="The cluster's access log arrived in the last 24 hours.")
    would_block_destinations = serializers.SerializerMethodField()
    would_block_connections = serializers.IntegerField(
        help_text="Connections no grant covers now: what enforcing refuses (observed), or refused (enforced)."
    )
    identities_affected = serializers.ListField(child=serializers.CharField())
    destinations = serializers.SerializerMethodField()

    def get_would_block_destinations(self, readiness) -> int:
        return len(readiness.would_block)

    @extend_schema_field(ObservedDestinationSerializer(many=True))
    def get_destinations(self, readiness):
        return ObservedDestinationSerializer(readiness.destinations, many=True, context=self.context).data


class EnforcementPreviewSerializer(serializers.Serializer):
    namespace = serializers.IntegerField()
    enforcement = serializers.CharField(help_text="The state previewed.")
    days = serializers.IntegerField()
    would_block = ObservedDestinationSerializer(
        many=True, help_text="Enforcing: destinations seen without a grant in the window. Observing: empty."
    )
    objects = ClusterPreviewSerializer(help_text="The objects the switch adds, changes and removes now.")


class NamespaceSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="namespace.pk")
    name = serializers.CharField(source="namespace.name")
    team = serializers.CharField(source="namespace.team.slug")
    enforcement = serializers.CharField(source="namespace.enforcement")
    enforcement_changed_at = serializers.DateTimeField(source="namespace.enforcement_changed_at", allow_null=True)
    grant_count = serializers.IntegerField()
    observed = serializers.IntegerField(help_text="Connections that passed by the gateway in the window.")
    would_block = serializers.IntegerField(help_text="Of those, the ones no grant covers now.")
    blocked_at_source = serializers.IntegerField(source="blocked", help_text="Refused in the pod in the window.")
    last_seen = serializers.DateTimeField(allow_null=True)


class ClusterEnforcementSerializer(serializers.Serializer):
    cluster = serializers.CharField(source="cluster.name")
    enforced = serializers.IntegerField()
    observed = serializers.IntegerField()
    would_block = serializers.IntegerField()
    blocked_at_source = serializers.IntegerField(source="blocked")
    namespaces = NamespaceSummarySerializer(many=True)


class EnforcementOverviewSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    clusters = ClusterEnforcementSerializer(many=True)
