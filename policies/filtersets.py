"""One FilterSet per listed model, shared by the UI pages and the REST API, so a filter means the
same thing everywhere. Filters over many-valued relations use subqueries, never DISTINCT."""

from datetime import UTC, timedelta

import django_filters as filters
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from policies.choices import (
    AccessVerdict,
    AuditEventType,
    Environment,
    GrantStatus,
    NamespaceEnforcement,
    Protocol,
    RequestStatus,
)
from policies.models import (
    AccessRecord,
    AuditEvent,
    Cluster,
    EgressRequest,
    Grant,
    Namespace,
    ReconcileRun,
    RequestDestination,
    WorkloadIdentity,
)
from policies.selectors.requests import RISK_FLAGS, risk_filter_q

_EVENT_NAMES = [(member.label, member.label) for member in AuditEventType]


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, converted to UTC: PostgreSQL refuses UTC offsets beyond ±15:59, and an offset can
    push a date past year 1 or 9999; both are a 400 for the caller, never a database error."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Enter a date and time between the years 1 and 9999.", code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


# Bounds for numeric filters, so huge values are a 400 instead of an overflow in timedelta or the database.
MAX_FILTER_DAYS = 36500
MAX_ID = 2**63 - 1


class RequestFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=RequestStatus.choices)
    team = filters.CharFilter(field_name="team__slug", label="Team")
    cluster = filters.CharFilter(method="filter_cluster", label="Cluster")
    host = filters.CharFilter(method="filter_host", label="Host contains")
    requester = filters.CharFilter(field_name="requester__username", label="Requester")
    risk = filters.MultipleChoiceFilter(choices=[(flag, flag) for flag in RISK_FLAGS], method="filter_risk")
    submitted_after = UtcDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = UtcDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    older_than_days = filters.NumberFilter(
        method="filter_older_than", label="Waiting more than N days", min_value=0, max_value=MAX_FILTER_DAYS
    )

    class Meta:
        model = EgressRequest
        fields = ["status", "team", "cluster", "host", "requester", "risk"]

    def filter_cluster(self, queryset, name, value):
        through = EgressRequest.identities.through.objects.filter(workloadidentity__namespace__cluster__name=value)
        return queryset.filter(pk__in=through.values("egressrequest_id"))

    def filter_host(self, queryset, name, value):
        return queryset.filter(
            pk__in=RequestDestination.objects.filter(host__icontains=value.strip().lower()).values("request_id")
        )

    def filter_risk(self, queryset, name, values):
        for flag in values:
            queryset = queryset.filter(risk_filter_q(flag))
        return queryset

    def filter_older_than(self, queryset, name, value):
        return queryset.filter(submitted_at__lt=timezone.now() - timedelta(days=float(value)))


class GrantFilterSet(filters.FilterSet):
    team = filters.CharFilter(field_name="team__slug", label="Team")
    cluster = filters.CharFilter(field_name="cluster__name", label="Cluster")
    host = filters.CharFilter(field_name="host", lookup_expr="icontains", label="Host contains")
    status = filters.MultipleChoiceFilter(choices=GrantStatus.choices)
    protocol = filters.ChoiceFilter(choices=Protocol.choices)
    namespace = filters.CharFilter(field_name="identity__namespace__name", label="Namespace")
    service_account = filters.CharFilter(field_name="identity__service_account", label="Service account")
    expiring_before = UtcDateTimeFilter(field_name="expires_at", lookup_expr="lt")
    expiring_within_days = filters.NumberFilter(
        method="filter_expiring_within", label="Expiring within N days", min_value=0, max_value=MAX_FILTER_DAYS
    )

    class Meta:
        model = Grant
        fields = ["team", "cluster", "host", "status", "protocol"]

    def filter_expiring_within(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(
            status=GrantStatus.ACTIVE, expires_at__gt=now, expires_at__lte=now + timedelta(days=float(value))
        )


class AuditEventFilterSet(filters.FilterSet):
    actor = filters.CharFilter(field_name="actor_repr", label="Actor")
    event_type = filters.MultipleChoiceFilter(choices=_EVENT_NAMES, method="filter_event_type", label="Event type")
    subject_type = filters.CharFilter(field_name="subject_type")
    subject_id = filters.CharFilter(field_name="subject_id")
    subject = filters.CharFilter(method="filter_subject", label="Subject contains")
    request = filters.NumberFilter(field_name="egress_request_id", label="Request id", min_value=1, max_value=MAX_ID)
    cluster = filters.CharFilter(method="filter_cluster", label="Cluster")
    occurred_after = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "event_type", "subject_type", "subject_id", "request"]

    def filter_event_type(self, queryset, name, values):
        numbers = [member.value for member in AuditEventType if member.label in values]
        return queryset.filter(event_type__in=numbers)

    def filter_subject(self, queryset, name, value):
        return queryset.filter(Q(subject_repr__icontains=value) | Q(subject_id=value))

    def filter_cluster(self, queryset, name, value):
        from policies.models import Cluster

        return queryset.filter(cluster_id__in=Cluster.objects.filter(name=value).values("pk"))


class NamespaceFilterSet(filters.FilterSet):
    cluster = filters.CharFilter(field_name="cluster__name", label="Cluster")
    team = filters.CharFilter(field_name="team__slug", label="Team")
    enforcement = filters.ChoiceFilter(choices=NamespaceEnforcement.choices)
    name = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Namespace
        fields = ["cluster", "team", "enforcement", "name"]


class ReconcileRunFilterSet(filters.FilterSet):
    cluster = filters.CharFilter(field_name="cluster__name", label="Cluster")
    outcome = filters.MultipleChoiceFilter(choices=ReconcileRun.Outcome.choices)
    trigger = filters.CharFilter(field_name="trigger")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")

    class Meta:
        model = ReconcileRun
        fields = ["cluster", "outcome", "trigger"]


class ClusterFilterSet(filters.FilterSet):
    name = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    environment = filters.ChoiceFilter(choices=Environment.choices)

    class Meta:
        model = Cluster
        fields = ["name", "environment"]


class WorkloadIdentityFilterSet(filters.FilterSet):
    cluster = filters.CharFilter(field_name="namespace__cluster__name", label="Cluster")
    namespace = filters.CharFilter(field_name="namespace__name", label="Namespace")
    team = filters.CharFilter(field_name="namespace__team__slug", label="Team")
    service_account = filters.CharFilter(
        field_name="service_account", lookup_expr="icontains", label="Service account contains"
    )
    discovered = filters.BooleanFilter()

    class Meta:
        model = WorkloadIdentity
        fields = ["cluster", "namespace", "team", "service_account", "discovered"]


class AccessRecordFilterSet(filters.FilterSet):
    """Access aggregates (and, grouped, denied attempts). `days` counts back from now."""

    team = filters.CharFilter(field_name="namespace__team__slug", label="Team")
    cluster = filters.CharFilter(field_name="cluster__name", label="Cluster")
    namespace = filters.CharFilter(field_name="namespace__name", label="Namespace")
    principal = filters.CharFilter(field_name="source_principal", lookup_expr="icontains", label="Principal contains")
    host = filters.CharFilter(field_name="host", lookup_expr="icontains", label="Host contains")
    verdict = filters.MultipleChoiceFilter(choices=AccessVerdict.choices)
    grant = filters.NumberFilter(field_name="grant_id", label="Grant id", min_value=1, max_value=MAX_ID)
    since = UtcDateTimeFilter(field_name="hour", lookup_expr="gte", label="Hours from")
    until = UtcDateTimeFilter(field_name="hour", lookup_expr="lt", label="Hours before")
    days = filters.NumberFilter(method="filter_days", label="In the last N days", min_value=1)

    class Meta:
        model = AccessRecord
        fields = ["team", "cluster", "namespace", "principal", "host", "verdict", "grant"]

    def filter_days(self, queryset, name, value):
        # Nothing older than the retention exists, and a huge value would overflow the date arithmetic.
        since = timezone.now() - timedelta(days=min(float(value), settings.EGRESSUI_ACCESS_RETENTION_DAYS))
        return queryset.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
