"""The audit history: filtered lists (JSON pages, or the whole filtered history as CSV) and the
hash-chain verification."""

import itertools

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api import serializers as s
from policies.api.renderers import CSVRenderer
from policies.audit_export import audit_csv_lines
from policies.exceptions import PermissionDenied
from policies.filtersets import AuditEventFilterSet
from policies.permissions import is_platform_admin
from policies.selectors.audit import audit_chain_verify, audit_event_list

TAG = "audit"


@extend_schema(
    tags=[TAG],
    summary="List audit events; ?format=csv exports every event matching the filters",
    parameters=[
        OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the whole filtered history, streamed.")
    ],
    responses={
        (200, "application/json"): s.AuditEventSerializer(many=True),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per event, oldest last."),
    },
)
class AuditEventListApi(generics.ListAPIView):
    """Events the caller may see: platform admins all, others those of requests they can see."""

    serializer_class = s.AuditEventSerializer
    ordering_fields = {"seq": "seq", "occurred_at": "occurred_at"}
    filterset_class = AuditEventFilterSet
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_queryset(self):
        return audit_event_list(user=self.request.user)

    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format != CSVRenderer.format:
            return super().list(request, *args, **kwargs)
        events = self.filter_queryset(self.get_queryset()).iterator(chunk_size=2000)
        # Run the query now, not once streaming has begun: a database error must still become an
        # error response rather than a cut-off download.
        first = next(events, None)
        rows = itertools.chain([first], events) if first is not None else iter(())
        response = StreamingHttpResponse(audit_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response


class AuditChainVerifyApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Re-compute the audit hash chain (platform admins)",
        responses={200: s.ChainReportSerializer},
    )
    def get(self, request):
        if not is_platform_admin(request.user):
            raise PermissionDenied("Only platform admins can verify the whole audit chain.")
        report = audit_chain_verify()
        return Response(s.ChainReportSerializer(report).data)
