"""Teams and workload identities. Every signed-in user may read teams (they name approver groups
and owners); only platform admins change them."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from policies.api import serializers as s
from policies.api.idempotency import idempotent
from policies.api.strict import created
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.filtersets import WorkloadIdentityFilterSet
from policies.models import Namespace
from policies.permissions import can_manage_teams
from policies.selectors.identities import workload_identity_list
from policies.selectors.teams import team_list
from policies.services.clusters import workload_identity_ensure
from policies.services.teams import team_create, team_update


def require_team_admin(user) -> None:
    if not can_manage_teams(user):
        raise PermissionDenied("Only platform admins can change teams.")


class TeamListCreateApi(generics.ListAPIView):
    serializer_class = s.TeamSerializer
    ordering_fields = {"id": "id", "slug": "slug", "name": "name", "created_at": "created_at"}

    def get_queryset(self):
        return team_list()

    @extend_schema(tags=["teams"], summary="List teams with their members and roles")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["teams"],
        summary="Create a team (platform admins)",
        request=s.TeamWriteSerializer,
        responses={201: s.TeamSerializer},
    )
    @idempotent
    def post(self, request):
        require_team_admin(request.user)
        serializer = s.TeamWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = team_create(actor=request.user, **serializer.validated_data)
        body = s.TeamSerializer(team_list().get(pk=team.pk)).data
        return created(request, body, reverse("api:team-detail", args=[team.pk]))


class TeamDetailApi(generics.RetrieveAPIView):
    serializer_class = s.TeamSerializer

    def get_queryset(self):
        return team_list()

    @extend_schema(tags=["teams"], summary="Read a team")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["teams"],
        summary="Change a team's settings (platform admins; the slug is fixed)",
        request=s.TeamUpdateSerializer(partial=True),
        responses={200: s.TeamSerializer},
    )
    def patch(self, request, pk: int):
        team = self.get_object()
        require_team_admin(request.user)
        serializer = s.TeamUpdateSerializer(team, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        team_update(team=team, actor=request.user, **serializer.validated_data)
        return Response(s.TeamSerializer(team_list().get(pk=team.pk)).data)


class IdentityListCreateApi(generics.ListAPIView):
    """Identities in the caller's teams' namespaces (platform admins: all)."""

    serializer_class = s.IdentitySerializer
    ordering_fields = {
        "id": "id",
        "cluster": "namespace__cluster__name",
        "namespace": "namespace__name",
        "service_account": "service_account",
    }
    filterset_class = WorkloadIdentityFilterSet

    def get_queryset(self):
        return workload_identity_list(user=self.request.user)

    @extend_schema(tags=["workload identities"], summary="List workload identities I can request for")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["workload identities"],
        summary="Register a service account in one of my team's namespaces (200 if it exists already)",
        request=s.IdentityCreateSerializer,
        responses={201: s.IdentitySerializer, 200: s.IdentitySerializer},
    )
    @idempotent
    def post(self, request):
        serializer = s.IdentityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        namespace = (
            Namespace.objects.select_related("cluster", "team")
            .filter(cluster__name=data["cluster"], name=data["namespace"])
            .first()
        )
        if namespace is None:
            raise ValidationFailed.on(
                "namespace", f"No namespace {data['namespace']} is registered in cluster {data['cluster']}."
            )
        existed = namespace.identities.filter(service_account=data["service_account"]).exists()
        identity = workload_identity_ensure(
            actor=request.user, namespace=namespace, service_account=data["service_account"]
        )
        body = s.IdentitySerializer(workload_identity_list(user=request.user).get(pk=identity.pk))
        if existed:
            return Response(body.data, status=status.HTTP_200_OK)
        return created(request, body.data, reverse("api:identity-detail", args=[identity.pk]))


class IdentityDetailApi(generics.RetrieveAPIView):
    serializer_class = s.IdentitySerializer

    def get_queryset(self):
        return workload_identity_list(user=self.request.user)

    @extend_schema(tags=["workload identities"], summary="Read a workload identity")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
