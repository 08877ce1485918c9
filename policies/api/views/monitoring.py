"""Egress monitoring: access-log ingestion (ingest token), the cluster's ingest token (platform
admins), grant usage, access records, denied attempts and unused grants (read with the caller's
rights: their teams' traffic, all of it for platform admins)."""

from datetime import timedelta

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.accesslog import BodyError, iter_body_records
from policies.api import monitoring as m
from policies.api import serializers as s
from policies.api.filtering import FilterBackend
from policies.api.idempotency import idempotent
from policies.api.ordering import OrderingBackend
from policies.api.strict import created, reject_body
from policies.api.views.clusters import require_cluster_admin
from policies.exceptions import ValidationFailed
from policies.filtersets import AccessRecordFilterSet
from policies.permissions import visible_grants
from policies.selectors.clusters import cluster_list
from policies.selectors.monitoring import (
    SPARKLINE_DAYS,
    access_record_list,
    denied_attempts,
    denied_attempts_explained,
    grant_usage,
    unused_grants,
)
from policies.services.access_logs import access_log_ingest
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from policies.views.lookups import visible_grant_or_404

TAG = "monitoring"
DENIED_DEFAULT_DAYS = 30

_INGEST_EXAMPLE = (
    '{"start_time":"2026-08-20T10:15:02.311Z","sni":"api.example.com",'
    '"source_principal":"spiffe://cluster.local/ns/team-a/sa/billing","upstream_cluster":"outbound|443||api.example.com",'
    '"response_flags":"-","response_code":0,"connection_termination_details":null,"bytes_sent":6021,"bytes_received":1534}'
)


class AccessLogIngestApi(APIView):
    authentication_classes = [m.IngestTokenAuthentication]
    permission_classes = [m.IngestFeedPermission]
    throttle_classes = [m.IngestFeedThrottle]
    parser_classes = []  # the body is read raw: JSON lines or a JSON array, maybe gzipped

    @extend_schema(
        tags=[TAG],
        summary="Post egress-gateway access-log lines (ingest token of this cluster only)",
        description=(
            "The body is JSON lines or a JSON array of Envoy access-log records, in egressui's Telemetry "
            "format or Istio's default JSON format, optionally with `Content-Encoding: gzip`. Bad lines are "
            "counted and the first ones reported with their line numbers; the good lines are always kept. "
            f"Bodies over EGRESSUI_INGEST_MAX_BODY_BYTES (default {16 * 1024 * 1024}) are refused with 413. "
            "A chunked body (no Content-Length) is read within the same limit where the server decodes it "
            "(gunicorn does), and refused with 411 otherwise: it is never taken for an empty post."
        ),
        request={"application/x-ndjson": OpenApiTypes.STR, "application/json": OpenApiTypes.ANY},
        responses={
            200: m.IngestReportSerializer,
            411: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A chunked body this server cannot decode; send Content-Length. The usual error shape.",
            ),
            413: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The body is over the size limit (also once gunzipped); the usual error shape.",
            ),
        },
        examples=[
            OpenApiExample("One line", value=_INGEST_EXAMPLE, request_only=True, media_type="application/x-ndjson")
        ],
    )
    def post(self, request, pk: int):
        state = request.auth
        body = m.read_body(request._request, limit=settings.EGRESSUI_INGEST_MAX_BODY_BYTES)
        records = iter_body_records(body, max_line_bytes=settings.EGRESSUI_INGEST_MAX_LINE_BYTES)
        try:
            report = access_log_ingest(cluster=state.cluster, records=records)
        except BodyError as exc:
            raise ValidationFailed.on("body", str(exc)) from None
        return Response(report.as_dict())


class IngestTokenRotateApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Issue a new ingest token for the cluster (platform admins); the old one stops working",
        request=None,
        responses={201: m.IngestTokenSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        require_cluster_admin(request.user)
        cluster = cluster_list().filter(pk=pk).first()
        if cluster is None:
            raise Http404
        reject_body(request)
        secret = cluster_ingest_token_rotate(cluster=cluster, actor=request.user)
        state = cluster.ingest
        body = {
            "cluster": cluster.name,
            "token": secret,
            "token_prefix": state.token_prefix,
            "token_rotated_at": state.token_rotated_at,
            "ingest_path": reverse("api:cluster-access-logs", args=[cluster.pk]),
        }
        # The token is not a resource of its own: Location is the cluster, whose `ingest` shows its prefix.
        response = created(
            request, m.IngestTokenSerializer(body).data, reverse("api:cluster-detail", args=[cluster.pk])
        )
        # Only the hash is kept, so an idempotent replay cannot show the token again.
        response.replay_data = {**response.data, "token": None}
        return response


class _DaysSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, required=False)

    def validate_days(self, value):
        if value > settings.EGRESSUI_ACCESS_RETENTION_DAYS:
            raise serializers.ValidationError(
                f"Access records are kept for {settings.EGRESSUI_ACCESS_RETENTION_DAYS} days; ask for fewer."
            )
        return value


def _days(request, default: int) -> int:
    serializer = _DaysSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("days", default)


_DAYS_PARAM = OpenApiParameter("days", int, description="Window in days, counted back from now.")


class GrantUsageApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Usage of a grant: last used, connections per day, top sources",
        parameters=[_DAYS_PARAM],
        responses={200: m.GrantUsageSerializer},
    )
    def get(self, request, pk: int):
        grant = visible_grant_or_404(request.user, pk)
        usage = grant_usage(grant=grant, days=_days(request, SPARKLINE_DAYS))
        data = {
            "grant": grant.pk,
            **{key: getattr(usage, key) for key in m.GrantUsageSerializer().fields if key not in ("grant", "daily")},
            "daily": [{"date": day, "count": count} for day, count in usage.daily],
        }
        return Response(m.GrantUsageSerializer(data).data)


@extend_schema(tags=[TAG], summary="List hourly access records (filters: team, cluster, host, verdict, days, …)")
class AccessRecordListApi(generics.ListAPIView):
    """Hourly sums of the egress gateway's access log, for the caller's teams (platform admins: all,
    including traffic from principals no team owns)."""

    serializer_class = m.AccessRecordSerializer
    ordering_fields = {"hour": "hour", "count": "count", "host": "host", "cluster": "cluster__name"}
    filterset_class = AccessRecordFilterSet

    def get_queryset(self):
        return access_record_list(user=self.request.user)


@extend_schema(
    tags=[TAG],
    summary="Blocked (principal, host) pairs with counts and a pre-filled request (default: last 30 days)",
)
class DeniedAttemptListApi(generics.ListAPIView):
    serializer_class = m.DeniedAttemptSerializer
    ordering_fields = {
        "last_seen": "last_seen",
        "first_seen": "first_seen",
        "attempts": "attempts",
        "host": "host",
        "cluster": "cluster__name",
    }
    filterset_class = AccessRecordFilterSet

    def get_queryset(self):
        return access_record_list(user=self.request.user).select_related(None)

    def filter_queryset(self, queryset):
        # Filters apply to the hourly records, ordering to the pairs summed from them.
        queryset = FilterBackend().filter_queryset(self.request, queryset, self)
        if not ({"days", "since", "until"} & set(self.request.query_params)):
            since = timezone.now() - timedelta(days=DENIED_DEFAULT_DAYS)
            queryset = queryset.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
        return OrderingBackend().filter_queryset(self.request, denied_attempts(queryset), self)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = denied_attempts_explained(list(page))
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


@extend_schema(
    tags=[TAG],
    summary="Active grants without traffic for N days (default EGRESSUI_UNUSED_GRANT_DAYS), on monitored clusters",
    parameters=[_DAYS_PARAM],
)
class UnusedGrantListApi(generics.ListAPIView):
    """Only clusters whose access log covered the whole window and still arrives are considered;
    on others, silence proves nothing."""

    serializer_class = s.GrantSerializer
    ordering_fields = {
        "id": "id",
        "expires_at": "expires_at",
        "host": "host",
        "team": "team__slug",
        "cluster": "cluster__name",
    }

    def get_queryset(self):
        days = _days(self.request, settings.EGRESSUI_UNUSED_GRANT_DAYS)
        report = unused_grants(grants=visible_grants(self.request.user), days=days)
        return report.grants.select_related("request", "ended_by")
