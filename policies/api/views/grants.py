"""Grants: list/read with the shared FilterSet; revoke and renew, one service each."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api import serializers as s
from policies.api.idempotency import idempotent
from policies.api.strict import created, reject_body
from policies.api.views.requests import request_detail_data
from policies.filtersets import GrantFilterSet
from policies.selectors.grants import grant_list
from policies.services.grants import grant_revoke
from policies.services.requests import egress_request_renew
from policies.views.lookups import visible_grant_or_404

TAG = "grants"


@extend_schema(tags=[TAG], summary="List grants (filters: team, cluster, host, status, expiring_before, …)")
class GrantListApi(generics.ListAPIView):
    """Grants of the caller's teams (platform admins: all)."""

    serializer_class = s.GrantSerializer
    ordering_fields = {
        "id": "id",
        "created_at": "created_at",
        "expires_at": "expires_at",
        "host": "host",
        "status": "status",
        "team": "team__slug",
        "cluster": "cluster__name",
    }
    filterset_class = GrantFilterSet

    def get_queryset(self):
        return grant_list(user=self.request.user)


@extend_schema(tags=[TAG], summary="Read a grant (poll applied_state to see it enforced)")
class GrantDetailApi(generics.RetrieveAPIView):
    serializer_class = s.GrantSerializer

    def get_queryset(self):
        return grant_list(user=self.request.user)


class GrantRevokeApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Revoke now (approvers of the team, platform admins); the cluster loses access on its next reconcile",
        request=s.RequiredReasonSerializer,
        responses={200: s.GrantSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        grant = visible_grant_or_404(request.user, pk)
        serializer = s.RequiredReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant_revoke(grant=grant, actor=request.user, reason=serializer.validated_data["reason"])
        return Response(s.GrantSerializer(grant_list(user=request.user).get(pk=grant.pk)).data)


class GrantRenewApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="Start a renewal: a new draft request pre-filled from the grant (submit it to renew)",
        request=None,
        responses={201: s.RequestDetailSerializer},
    )
    @idempotent
    def post(self, request, pk: int):
        grant = visible_grant_or_404(request.user, pk)
        reject_body(request)
        renewal = egress_request_renew(grant=grant, requester=request.user)
        location = reverse("api:request-detail", args=[renewal.pk])
        return created(request, request_detail_data(request.user, renewal.pk), location)
