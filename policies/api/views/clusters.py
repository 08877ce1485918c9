"""Clusters and their reconcile runs. Every signed-in user may read clusters (they pick them in
requests; secrets are never output); platform admins change them, trigger reconciles and read runs
and manifests, which show every team's grants on the cluster."""

from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from policies.api import serializers as s
from policies.api.auth import ClusterAdminPermission
from policies.api.idempotency import idempotent
from policies.api.renderers import YAMLRenderer
from policies.api.strict import created, reject_body
from policies.exceptions import PermissionDenied
from policies.filtersets import ClusterFilterSet, ReconcileRunFilterSet
from policies.manifests.serialize import dump_yaml
from policies.models import Cluster
from policies.permissions import can_manage_clusters
from policies.selectors.clusters import cluster_list, reconcile_run_list
from policies.selectors.manifests import desired_objects_for_cluster
from policies.services.clusters import cluster_create, cluster_mode_migrate, cluster_update
from policies.services.reconcile import cluster_reconcile_request

TAG = "clusters"


def require_cluster_admin(user) -> None:
    if not can_manage_clusters(user):
        raise PermissionDenied("Only platform admins can do this.")


class ClusterListCreateApi(generics.ListAPIView):
    serializer_class = s.ClusterSerializer
    ordering_fields = {"id": "id", "name": "name", "created_at": "created_at"}
    filterset_class = ClusterFilterSet

    def get_queryset(self):
        return cluster_list()

    @extend_schema(tags=[TAG], summary="List clusters with their sync state")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Register a cluster (platform admins); secrets are write-only",
        request=s.ClusterWriteSerializer,
        responses={201: s.ClusterSerializer},
    )
    @idempotent
    def post(self, request):
        require_cluster_admin(request.user)
        serializer = s.ClusterWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cluster = cluster_create(actor=request.user, **serializer.validated_data)
        data = s.ClusterSerializer(cluster_list().get(pk=cluster.pk), context={"request": request}).data
        return created(request, data, reverse("api:cluster-detail", args=[cluster.pk]))


class ClusterDetailApi(generics.RetrieveAPIView):
    serializer_class = s.ClusterSerializer

    def get_queryset(self):
        return cluster_list()

    @extend_schema(tags=[TAG], summary="Read a cluster")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Change cluster settings (platform admins); empty secrets keep their stored value",
        request=s.ClusterUpdateSerializer(partial=True),
        responses={200: s.ClusterSerializer},
    )
    def patch(self, request, pk: int):
        cluster = self.get_object()
        require_cluster_admin(request.user)
        serializer = s.ClusterUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        cluster_update(cluster=cluster, actor=request.user, **serializer.validated_data)
        return Response(s.ClusterSerializer(cluster_list().get(pk=cluster.pk), context={"request": request}).data)


@extend_schema(tags=[TAG], summary="List reconcile runs (platform admins)")
class ReconcileRunListApi(generics.ListAPIView):
    serializer_class = s.ReconcileRunSerializer
    ordering_fields = {"id": "id", "started_at": "started_at", "finished_at": "finished_at", "cluster": "cluster__name"}
    filterset_class = ReconcileRunFilterSet
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ClusterAdminPermission]

    def get_queryset(self):
        return reconcile_run_list()


@extend_schema(tags=[TAG], summary="Read a reconcile run with its per-object results (platform admins)")
class ReconcileRunDetailApi(generics.RetrieveAPIView):
    serializer_class = s.ReconcileRunDetailSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ClusterAdminPermission]

    def get_queryset(self):
        return reconcile_run_list().prefetch_related("results")


def _cluster_or_404(pk) -> Cluster:
    cluster = Cluster.objects.filter(pk=pk).first()
    if cluster is None:
        raise Http404
    return cluster


class ClusterManifestsApi(APIView):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ClusterAdminPermission]
    renderer_classes = [JSONRenderer, YAMLRenderer]

    @extend_schema(
        tags=[TAG],
        summary="The objects the cluster should hold now (platform admins); ?format=yaml for a YAML stream",
        parameters=[OpenApiParameter("format", str, enum=["json", "yaml"])],
        responses={
            (200, "application/json"): s.ManifestListSerializer,
            (200, "application/yaml"): OpenApiResponse(
                OpenApiTypes.STR, description="Multi-document YAML, as `render_manifests` writes it."
            ),
        },
    )
    def get(self, request, pk: int):
        objects = desired_objects_for_cluster(_cluster_or_404(pk))
        if request.accepted_renderer.format == YAMLRenderer.format:
            return HttpResponse(dump_yaml(objects), content_type="application/yaml; charset=utf-8")
        return Response({"apiVersion": "v1", "kind": "List", "items": objects})


class ClusterReconcileApi(APIView):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ClusterAdminPermission]

    @extend_schema(
        tags=[TAG],
        summary="Reconcile now (platform admins): queues a run and returns its id; poll reconcile-runs/{id}/",
        request=None,
        responses={202: s.ReconcileQueuedSerializer},
    )
    @idempotent(atomic=False)  # the service commits on its own (durable) before the task is queued
    def post(self, request, pk: int):
        cluster = _cluster_or_404(pk)
        reject_body(request)
        run = cluster_reconcile_request(cluster=cluster, actor=request.user)
        body = {"run_id": run.pk, "run": s.ReconcileRunSerializer(reconcile_run_list().get(pk=run.pk)).data}
        location = reverse("api:reconcile-run-detail", args=[run.pk])
        return created(request, body, location, status_code=status.HTTP_202_ACCEPTED)


class ClusterModeMigrateApi(APIView):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ClusterAdminPermission]

    @extend_schema(
        tags=[TAG],
        summary="Move a cluster to another enforcement mode (platform admins): audited; the next reconcile "
        "applies the new mode's objects and deletes the old mode's in one run",
        request=s.ClusterModeMigrateSerializer,
        responses={200: s.ClusterSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        cluster = _cluster_or_404(pk)
        serializer = s.ClusterModeMigrateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settings = dict(serializer.validated_data)
        mode = settings.pop("enforcement_mode")
        cluster_mode_migrate(cluster=cluster, actor=request.user, mode=mode, **settings)
        return Response(s.ClusterSerializer(cluster_list().get(pk=cluster.pk), context={"request": request}).data)
