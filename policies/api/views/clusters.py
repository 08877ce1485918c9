"""Clusters and their reconcile runs. Every signed-in user may read clusters (they pick them in
requests; secrets are never output); platform admins change them, trigger reconciles and read runs
and manifests, which show every team's grants on the cluster."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from policies.api import serializers as s
from policies.api.auth import ClusterAdminPermission
from policies.api.idempotency import idempotent
from policies.exceptions import PermissionDenied
from policies.filtersets import ClusterFilterSet, ReconcileRunFilterSet
from policies.permissions import can_manage_clusters
from policies.selectors.clusters import cluster_list, reconcile_run_list
from policies.services.clusters import cluster_create, cluster_update

TAG = "clusters"


def require_cluster_admin(user) -> None:
    if not can_manage_clusters(user):
        raise PermissionDenied("Only platform admins can do this.")


class ClusterListCreateApi(generics.ListAPIView):
    serializer_class = s.ClusterSerializer
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
        return Response(s.ClusterSerializer(cluster_list().get(pk=cluster.pk)).data, status=status.HTTP_201_CREATED)


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
        return Response(s.ClusterSerializer(cluster_list().get(pk=cluster.pk)).data)


@extend_schema(tags=[TAG], summary="List reconcile runs (platform admins)")
class ReconcileRunListApi(generics.ListAPIView):
    serializer_class = s.ReconcileRunSerializer
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
