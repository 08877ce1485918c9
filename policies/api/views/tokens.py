"""Personal API tokens: list mine, create (the secret is in that response only), revoke."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api import serializers as s
from policies.api.idempotency import idempotent
from policies.api.strict import created, reject_body
from policies.models import ApiToken
from policies.selectors.tokens import api_token_list
from policies.services.tokens import api_token_create, api_token_revoke
from policies.views.lookups import own_token_or_404

TAG = "tokens"


class TokenListCreateApi(generics.ListAPIView):
    serializer_class = s.TokenSerializer
    ordering_fields = {
        "id": "id",
        "name": "name",
        "created_at": "created_at",
        "last_used_at": "last_used_at",
        "expires_at": "expires_at",
    }

    def get_queryset(self):
        return api_token_list(user=self.request.user)

    @extend_schema(tags=[TAG], summary="List my tokens (secrets are never shown again)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Create a token; the secret is in this response only. Created with a token, it is never "
        "broader (a read-only token creates none) and expires no later than that token",
        request=s.TokenCreateSerializer,
        responses={201: s.TokenCreatedSerializer},
        examples=[
            OpenApiExample(
                "CI pipeline, read-only, 90 days",
                request_only=True,
                value={"name": "ci-readonly", "read_only": True, "expires_in_days": 90},
            )
        ],
    )
    @idempotent
    def post(self, request):
        serializer = s.TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parent = request.auth if isinstance(request.auth, ApiToken) else None
        token, secret = api_token_create(
            user=request.user, actor=request.user, parent=parent, **serializer.validated_data
        )
        location = reverse("api:token-detail", args=[token.pk])
        response = created(request, {**s.TokenSerializer(token).data, "token": secret}, location)
        # Only the hash is stored, so an idempotent replay cannot show the secret again.
        response.replay_data = {**s.TokenSerializer(token).data, "token": None}
        return response


class TokenRevokeApi(APIView):
    @extend_schema(tags=[TAG], summary="Revoke one of my tokens", request=None, responses={200: s.TokenSerializer})
    @idempotent
    def post(self, request, pk: int):
        token = own_token_or_404(request.user, pk)
        reject_body(request)
        return Response(s.TokenSerializer(api_token_revoke(token=token, actor=request.user)).data)


@extend_schema(tags=[TAG], summary="Read one of my tokens (never its secret)")
class TokenDetailApi(generics.RetrieveAPIView):
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return api_token_list(user=self.request.user)
