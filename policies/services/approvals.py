"""Writes on approval steps: approve, reject, request changes; and the final approval."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from policies.actors import Actor
from policies.approval_rules import Item, Plan, plan_approval
from policies.choices import AuditEventType, Decision, RequestStatus, StepStatus
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApprovalDecision, ApprovalRule, ApprovalStep, EgressRequest, Grant, WorkloadIdentity
from policies.permissions import step_denial_reason
from policies.services.audit import audit_event_record
from policies.services.grants import grants_create_for_request
from policies.services.notifications import notify_requester_decision, notify_step_pending
from policies.services.transitions import steps_cancel_open, transition


def approval_plan_for(request: EgressRequest, identities: Iterable[WorkloadIdentity]) -> Plan:
    rules = list(
        ApprovalRule.objects.filter(enabled=True)
        .select_related("domain_list")
        .prefetch_related("steps")
        .order_by("priority", "id")
    )
    environments = sorted({identity.namespace.cluster.environment for identity in identities})
    items = [
        Item(environment=environment, host=d.host, protocol=d.protocol, duration_days=request.duration_days)
        for environment in environments
        for d in request.destinations.all()
    ]
    return plan_approval(rules=rules, items=items, requesting_team_id=request.team_id)


def _lock_for_decision(request: EgressRequest, user: User) -> tuple[EgressRequest, ApprovalStep]:
    """Lock the request row, then re-check everything: the loser of a race sees the new state."""
    request = EgressRequest.objects.select_for_update().select_related("team", "requester").get(pk=request.pk)
    if request.status != RequestStatus.SUBMITTED:  # the one state with a step to decide
        raise TransitionNotAllowed(
            f"Request #{request.pk} is {request.get_status_display().lower()}; it is not waiting for approval."
        )
    step = (
        ApprovalStep.objects.select_for_update()
        .select_related("team")
        .filter(request=request, round=request.round, status=StepStatus.PENDING)
        .order_by("position")
        .first()
    )
    reason = step_denial_reason(user, request, step)
    if reason or step is None:
        raise PermissionDenied(reason or f"Request #{request.pk} has no step to decide.")
    return request, step


def _record_decision(
    *, request: EgressRequest, step: ApprovalStep, user: User, decision: str, comment: str
) -> ApprovalDecision:
    record = ApprovalDecision.objects.create(
        request=request,
        step=step,
        round=request.round,
        user=user,
        user_repr=user.get_username(),
        decision=decision,
        comment=comment,
    )
    audit_event_record(
        event_type=AuditEventType.STEP_DECISION,
        actor=user,
        subject=request,
        egress_request=request,
        after={"step": step.name, "position": step.position, "round": request.round, "decision": decision},
        message=comment,
    )
    return record


@transaction.atomic
def egress_request_approve(*, request: EgressRequest, approver: User, comment: str = "") -> ApprovalDecision:
    """Approve the current step. When the last step is satisfied the request is approved and its
    grants are created, all in this transaction."""
    request, step = _lock_for_decision(request, approver)
    record = _record_decision(request=request, step=step, user=approver, decision=Decision.APPROVE, comment=comment)
    approvals = step.decisions.filter(decision=Decision.APPROVE).count()
    if approvals < step.required_approvals:
        return record
    transition(
        step,
        StepStatus.APPROVED,
        actor=approver,
        event_type=AuditEventType.STEP_APPROVED,
        fields={"decided_at": timezone.now()},
        subject=request,
        egress_request=request,
        after={"step": step.name, "approvals": approvals, "required": step.required_approvals},
    )
    following = (
        ApprovalStep.objects.select_for_update()
        .filter(request=request, round=request.round, status=StepStatus.WAITING)
        .select_related("team")
        .order_by("position")
        .first()
    )
    if following is not None:
        transition(following, StepStatus.PENDING, actor=approver, event_type=None)  # step_approved records it
        notify_step_pending(request=request, step=following)
        return record
    egress_request_finalize_approval(request=request, actor=approver, event_type=AuditEventType.REQUEST_APPROVED)
    notify_requester_decision(request=request, decision="approved", actor_name=approver.get_username(), comment=comment)
    return record


def egress_request_finalize_approval(
    *, request: EgressRequest, actor: Actor, event_type: AuditEventType, actor_repr: str | None = None
) -> list[Grant]:
    """Mark a (locked) request approved and create its grants. Called inside a service transaction."""
    transition(
        request,
        RequestStatus.APPROVED,
        actor=actor,
        actor_repr=actor_repr,
        event_type=event_type,
        fields={"decided_at": timezone.now()},
    )
    return grants_create_for_request(request=request, actor=actor, actor_repr=actor_repr)


@dataclass(frozen=True)
class _Closing:
    """What a decision that ends the current round does: the step's and the request's new state,
    the request's audit event, and how the requester's notice names it."""

    step_status: StepStatus
    status: RequestStatus
    event_type: AuditEventType
    label: str


_CLOSINGS = {
    Decision.REJECT: _Closing(StepStatus.REJECTED, RequestStatus.REJECTED, AuditEventType.REQUEST_REJECTED, "rejected"),
    Decision.REQUEST_CHANGES: _Closing(
        StepStatus.CHANGES_REQUESTED,
        RequestStatus.CHANGES_REQUESTED,
        AuditEventType.REQUEST_CHANGES_REQUESTED,
        "sent back for changes",
    ),
}


def _close(*, request: EgressRequest, approver: User, decision: Decision, comment: str) -> EgressRequest:
    """Decide the current step so that the round ends (`_CLOSINGS`): a comment is required, since the
    requester needs to know why."""
    closing = _CLOSINGS[decision]
    request, step = _lock_for_decision(request, approver)
    if not comment.strip():
        raise ValidationFailed.on("comment", "Say why, so the requester knows what to change.")
    _record_decision(request=request, step=step, user=approver, decision=decision, comment=comment)
    now = timezone.now()
    # One event for both: the request's, below.
    transition(step, closing.step_status, actor=approver, event_type=None, fields={"decided_at": now})
    transition(
        request,
        closing.status,
        actor=approver,
        event_type=closing.event_type,
        fields={"decided_at": now, "decision_reason": comment},
        message=comment,
    )
    steps_cancel_open(request=request, now=now)
    notify_requester_decision(
        request=request, decision=closing.label, actor_name=approver.get_username(), comment=comment
    )
    return request


@transaction.atomic
def egress_request_reject(*, request: EgressRequest, approver: User, comment: str) -> EgressRequest:
    """End the request; asking again means a new request."""
    return _close(request=request, approver=approver, decision=Decision.REJECT, comment=comment)


@transaction.atomic
def egress_request_request_changes(*, request: EgressRequest, approver: User, comment: str) -> EgressRequest:
    """Send the request back to its requester, who may edit and resubmit it (a new round)."""
    return _close(request=request, approver=approver, decision=Decision.REQUEST_CHANGES, comment=comment)
