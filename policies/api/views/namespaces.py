"""Namespaces and their enforcement state. Team members read their teams' namespaces (others' do not
exist for them: 404); switching follows EGRESSUI_ENFORCEMENT_SWITCH_ROLE (team approvers by default)
and platform admins."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api import namespaces as n
from policies.api.idempotency import idempotent
from policies.choices import NamespaceEnforcement
from policies.filtersets import NamespaceFilterSet
from policies.models import Cluster
from policies.selectors.manifests import namespace_enforcement_preview
from policies.selectors.namespaces import enforcement_overview, namespace_list, namespace_readiness, readiness_days
from policies.services.namespaces import namespace_enforcement_set
from policies.views.lookups import visible_namespace_or_404

TAG = "namespaces"
_DAYS = OpenApiParameter("days", int, description="Window in days (default EGRESSUI_READINESS_DAYS, at most 90).")


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(tags=[TAG], summary="List the namespaces of my teams (platform admins: all) with their state")
class NamespaceListApi(generics.ListAPIView):
    serializer_class = n.NamespaceSerializer
    ordering_fields = {
        "id": "id",
        "name": "name",
        "cluster": "cluster__name",
        "team": "team__slug",
        "enforcement": "enforcement",
    }
    filterset_class = NamespaceFilterSet

    def get_queryset(self):
        return namespace_list(user=self.request.user)


@extend_schema(tags=[TAG], summary="Read a namespace and its enforcement state")
class NamespaceDetailApi(generics.RetrieveAPIView):
    serializer_class = n.NamespaceSerializer

    def get_queryset(self):
        return namespace_list(user=self.request.user)


class NamespaceReadinessApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="What the namespace's sidecars saw at their catch-all: what enforcing would block (observed), "
        "or what was refused in the pod (enforced)",
        parameters=[_DAYS],
        responses={200: n.ReadinessSerializer},
    )
    def get(self, request, pk: int):
        namespace = visible_namespace_or_404(request.user, pk)
        readiness = namespace_readiness(namespace, days=_query(n.ReadinessQuerySerializer, request).get("days"))
        context = {"request": request, "namespace": namespace}
        return Response(n.ReadinessSerializer(readiness, context=context).data)


class NamespaceEnforcementPreviewApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Preview a switch: what enforcing would block, and the objects added, changed and removed",
        parameters=[
            OpenApiParameter("enforcement", str, enum=NamespaceEnforcement.values, required=True),
            _DAYS,
        ],
        responses={200: n.EnforcementPreviewSerializer},
    )
    def get(self, request, pk: int):
        namespace = visible_namespace_or_404(request.user, pk)
        query = _query(n.PreviewQuerySerializer, request)
        wanted = query["enforcement"]
        readiness = namespace_readiness(namespace, days=query.get("days"))
        would_block = readiness.would_block if wanted == NamespaceEnforcement.ENFORCE else []
        context = {"request": request, "namespace": namespace}
        objects = namespace_enforcement_preview(namespace, wanted, viewer=request.user)
        body = {
            "namespace": namespace.pk,
            "enforcement": wanted,
            "days": readiness.days,
            "would_block": n.ObservedDestinationSerializer(would_block, many=True, context=context).data,
            "objects": n.ClusterPreviewSerializer(objects).data,
        }
        return Response(body)


class NamespaceEnforcementApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Switch a namespace to observe or enforce (team approvers or platform admins; observe needs a reason)",
        request=n.EnforcementSwitchSerializer,
        responses={200: n.NamespaceSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        namespace = visible_namespace_or_404(request.user, pk)
        serializer = n.EnforcementSwitchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        namespace_enforcement_set(
            namespace=namespace, actor=request.user, enforcement=data["enforcement"], reason=data.get("reason", "")
        )
        fresh = namespace_list(user=request.user).get(pk=namespace.pk)
        return Response(n.NamespaceSerializer(fresh, context={"request": request}).data)


class EnforcementOverviewApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Per cluster: which namespaces are observed or enforced, how much traffic would be (or was) blocked",
        parameters=[_DAYS, OpenApiParameter("cluster", str, description="Only this cluster (by name).")],
        responses={200: n.EnforcementOverviewSerializer},
    )
    def get(self, request):
        days = readiness_days(_query(n.ReadinessQuerySerializer, request).get("days"))
        cluster = None
        if request.query_params.get("cluster"):
            cluster = Cluster.objects.filter(name=request.query_params["cluster"]).first()
            if cluster is None:
                raise Http404
        overview = enforcement_overview(user=request.user, days=days, cluster=cluster)
        return Response(n.EnforcementOverviewSerializer({"days": days, "clusters": overview}).data)
