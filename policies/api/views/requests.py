"""Egress requests: list/read through the shared selector and FilterSet, and one endpoint per verb,
each calling exactly one service."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from policies.api import serializers as s
from policies.api.idempotency import idempotent
from policies.api.renderers import FastJSONRenderer
from policies.api.strict import created, reject_body
from policies.exceptions import ValidationFailed
from policies.filtersets import RequestFilterSet
from policies.models import ApprovalDecision, EgressRequest
from policies.permissions import (
    can_approve,
    can_cancel_request,
    can_edit_request,
    can_submit_request,
    visible_requests,
)
from policies.selectors.identities import workload_identities_by_name
from policies.selectors.manifests import request_preview
from policies.selectors.request_api_rows import (
    RequestPageRows,
    request_api_document,
    request_api_rows,
)
from policies.selectors.requests import request_rows
from policies.services.approvals import egress_request_approve, egress_request_reject, egress_request_request_changes
from policies.services.requests import (
    DestinationInput,
    RequestInput,
    egress_request_cancel,
    egress_request_create,
    egress_request_submit,
    egress_request_update,
)
from policies.views.lookups import visible_request_or_404

TAG = "requests"

CREATE_EXAMPLE = OpenApiExample(
    "Stripe for checkout, submitted at once",
    request_only=True,
    value={
        "team": "payments",
        "identities": ["prod-eu/payments/checkout"],
        "destinations": [{"host": "api.stripe.com", "port": 443, "protocol": "tls"}],
        "justification": "Card payments for the checkout flow.",
        "ticket_url": "https://tickets.example.com/PAY-123",
        "duration_days": 90,
        "submit": True,
    },
)


def request_detail_data(user, pk: int) -> dict:
    """The detail representation (RequestDetailSerializer's), re-read after a write so it shows the
    committed state: the list's document (the same read path), then decisions, grants and actions."""
    request = visible_requests(user).select_related("team", "requester").get(pk=pk)
    document = request_api_document(request)
    decisions = request.decisions.select_related("step")
    return {
        **document,
        "decisions": s.DecisionSerializer(decisions, many=True).data,
        "grants": list(request.grants.values_list("pk", flat=True)),
        "existing_access": s.existing_access_data(request, document),
        "allowed_actions": {
            "edit": can_edit_request(user, request),
            "submit": can_submit_request(user, request),
            "cancel": can_cancel_request(user, request),
            "approve": (may_decide := can_approve(user, request)),
            "reject": may_decide,
            "request_changes": may_decide,
        },
    }


def _parse_identity(name: str) -> tuple[str, str, str] | None:
    parts = [part.strip() for part in name.strip().split("/")]
    return tuple(parts) if len(parts) == 3 and all(parts) else None


def request_input(data: dict, *, team, current: EgressRequest | None = None) -> RequestInput:
    """Service input from validated serializer data. With `current` (a PATCH), fields left out keep
    their values; without it (create, PUT) they take their defaults."""
    errors: dict[str, list[str]] = {}
    identities = None
    if "identities" in data:
        parsed = [_parse_identity(name) for name in data["identities"]]
        found = workload_identities_by_name([key for key in parsed if key])
        identities = []
        for index, (name, key) in enumerate(zip(data["identities"], parsed, strict=True)):
            if key is None:
                errors[f"identities.{index}"] = [
                    f"Write the identity as cluster/namespace/service-account, not {name!r}."
                ]
            elif key not in found:
                errors[f"identities.{index}"] = [
                    f"No workload identity {'/'.join(key)}; register it with POST /api/v1/workload-identities/."
                ]
            else:
                identities.append(found[key])
    if errors:
        field = next(iter(errors))
        raise ValidationFailed(f"{field}: {errors[field][0]}", fields=errors)
    if identities is None:
        identities = list(current.identities.select_related("namespace__cluster"))
    if "destinations" in data:
        destinations = [DestinationInput(**item) for item in data["destinations"]]
    else:
        destinations = [
            DestinationInput(
                host=d.host, port=d.port, protocol=d.protocol, expanded_hosts=d.expanded_hosts, tcp_direct=d.tcp_direct
            )
            for d in current.destinations.all()
        ]

    def kept(field, default):
        if field in data:
            return data[field]
        return getattr(current, field) if current is not None else default

    return RequestInput(
        team=team,
        identities=identities,
        destinations=destinations,
        justification=kept("justification", ""),
        ticket_url=kept("ticket_url", ""),
        duration_days=kept("duration_days", None),
    )


def team_by_slug(slug: str):
    from policies.models import Team

    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise ValidationFailed.on("team", f"No team with slug {slug!r}.")
    return team


class RequestListCreateApi(generics.ListAPIView):
    """Requests the caller may see (their teams', and those waiting on steps they approve)."""

    serializer_class = s.RequestSerializer
    ordering_fields = {
        "id": "id",
        "created_at": "created_at",
        "submitted_at": "submitted_at",
        "decided_at": "decided_at",
        "status": "status",
        "team": "team__slug",
    }
    filterset_class = RequestFilterSet
    renderer_classes = [FastJSONRenderer]

    def get_queryset(self):
        return request_rows(user=self.request.user)

    @extend_schema(tags=[TAG], summary="List egress requests")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        # The page is sliced from plain column tuples and its documents built without model instances
        # (request_api_rows): the JSON serializer_class declares, at a fraction of the CPU.
        page = self.paginate_queryset(RequestPageRows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(request_api_rows(page))

    @extend_schema(
        tags=[TAG],
        summary="Create a request (a draft, or submitted at once with submit=true)",
        request=s.RequestCreateSerializer,
        responses={201: s.RequestDetailSerializer},
        examples=[CREATE_EXAMPLE],
    )
    @idempotent
    def post(self, request):
        serializer = s.RequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        new = egress_request_create(
            requester=request.user,
            data=request_input(data, team=team_by_slug(data["team"])),
            submit=data["submit"],
        )
        return created(request, request_detail_data(request.user, new.pk), reverse("api:request-detail", args=[new.pk]))


class RequestDetailApi(APIView):
    @extend_schema(tags=[TAG], summary="Read a request", responses={200: s.RequestDetailSerializer})
    def get(self, request, pk: int):
        return Response(request_detail_data(request.user, visible_request_or_404(request.user, pk).pk))

    @extend_schema(
        tags=[TAG],
        summary="Replace a draft (or a request sent back for changes); submit=true also submits it",
        request=s.RequestUpdateSerializer,
        responses={200: s.RequestDetailSerializer},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        tags=[TAG],
        summary="Change some fields of a draft (or a request sent back for changes)",
        request=s.RequestUpdateSerializer(partial=True),
        responses={200: s.RequestDetailSerializer},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        current = visible_request_or_404(request.user, pk)
        serializer = s.RequestUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        team = team_by_slug(data["team"]) if "team" in data else current.team
        submit = data.get("submit", False)
        data = request_input(data, team=team, current=current if partial else None)
        egress_request_update(request=current, actor=request.user, data=data, submit=submit)
        return Response(request_detail_data(request.user, current.pk))


class _RequestActionApi(APIView):
    # POST requests/{id}/<verb>/: validate the body, call the one service, return the request.

    input_serializer = None

    def perform(self, user, egress_request: EgressRequest, data: dict) -> None:
        raise NotImplementedError

    @idempotent
    def post(self, request, pk: int):
        egress_request = visible_request_or_404(request.user, pk)
        data = {}
        if self.input_serializer is None:
            reject_body(request)
        else:
            serializer = self.input_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        self.perform(request.user, egress_request, data)
        return Response(request_detail_data(request.user, egress_request.pk))


def _action_schema(summary: str, input_serializer=None):
    return extend_schema(
        tags=[TAG], summary=summary, request=input_serializer, responses={200: s.RequestDetailSerializer}
    )


class RequestSubmitApi(_RequestActionApi):
    @_action_schema("Submit for approval (approval rules decide the steps, or approve/deny at once)")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, user, egress_request, data):
        egress_request_submit(request=egress_request, actor=user)


class RequestCancelApi(_RequestActionApi):
    input_serializer = s.ReasonSerializer

    @_action_schema("Cancel an open request (requester or platform admin)", s.ReasonSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, user, egress_request, data):
        egress_request_cancel(request=egress_request, actor=user, reason=data["reason"])


class RequestApproveApi(_RequestActionApi):
    input_serializer = s.CommentSerializer

    @_action_schema(
        "Approve the current step (the last step approves the request and creates grants)", s.CommentSerializer
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, user, egress_request, data) -> ApprovalDecision:
        return egress_request_approve(request=egress_request, approver=user, comment=data["comment"])


class RequestRejectApi(_RequestActionApi):
    input_serializer = s.RequiredCommentSerializer

    @_action_schema("Reject (a comment is required)", s.RequiredCommentSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, user, egress_request, data):
        egress_request_reject(request=egress_request, approver=user, comment=data["comment"])


class RequestRequestChangesApi(_RequestActionApi):
    input_serializer = s.RequiredCommentSerializer

    @_action_schema("Send back to the requester for changes (a comment is required)", s.RequiredCommentSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, user, egress_request, data):
        egress_request_request_changes(request=egress_request, approver=user, comment=data["comment"])


class RequestPreviewApi(APIView):
    @extend_schema(
        tags=[TAG],
        summary="The objects approving this request would add, change or remove, per cluster",
        responses={200: s.RequestPreviewSerializer},
    )
    def get(self, request, pk: int):
        egress_request = visible_request_or_404(request.user, pk)
        previews = request_preview(egress_request, viewer=request.user, server_check=True)
        return Response(s.RequestPreviewSerializer({"request": egress_request.pk, "clusters": previews}).data)


__all__ = [
    "RequestApproveApi",
    "RequestCancelApi",
    "RequestDetailApi",
    "RequestListCreateApi",
    "RequestPreviewApi",
    "RequestRejectApi",
    "RequestRequestChangesApi",
    "RequestSubmitApi",
]
