"""Writes on egress requests: create and edit drafts, submit, cancel, renew."""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from policies.choices import (
    EDITABLE_REQUEST_STATES,
    AuditEventType,
    GrantStatus,
    RequestStatus,
    RuleOutcome,
    StepStatus,
)
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApprovalStep, EgressRequest, Grant
from policies.permissions import (
    can_renew_grant,
    grant_is_renewable,
    request_cancel_denial,
    request_edit_denial,
    request_submit_denial,
)
from policies.services.approvals import approval_plan_for, egress_request_finalize_approval
from policies.services.audit import audit_event_record
from policies.services.notifications import notify_requester_decision, notify_step_pending
from policies.services.request_inputs import (
    DestinationInput,
    RequestInput,
    request_from_input,
    request_input_validate,
    request_items_write,
)
from policies.services.transitions import steps_cancel_open, transition, transition_check


def _snapshot(request: EgressRequest) -> dict:
    return {
        "status": request.status,
        "team": request.team.slug,
        "justification": request.justification,
        "ticket_url": request.ticket_url,
        "duration_days": request.duration_days,
        "identities": sorted(str(identity) for identity in request.identities.select_related("namespace__cluster")),
        "destinations": [
            {
                "host": d.host,
                "port": d.port,
                "protocol": d.protocol,
                "expanded_hosts": d.expanded_hosts,
                "tcp_direct": d.tcp_direct,
            }
            for d in request.destinations.all()
        ],
    }


def _lock(request: EgressRequest) -> EgressRequest:
    return EgressRequest.objects.select_for_update().select_related("team", "requester").get(pk=request.pk)


def _refuse(denial: str | None) -> None:
    if denial is not None:
        raise PermissionDenied(denial)


@transaction.atomic
def egress_request_create(
    *, requester: User, data: RequestInput, submit: bool = False, renewal_of: Grant | None = None
) -> EgressRequest:
    """Create a draft (and optionally submit it at once, in the same transaction)."""
    request = request_from_input(data, requester=requester, renewal_of=renewal_of)
    audit_event_record(
        event_type=AuditEventType.REQUEST_CREATED,
        actor=requester,
        subject=request,
        egress_request=request,
        after=_snapshot(request),
        message=f"Renewal of grant #{renewal_of.pk}" if renewal_of else "",
    )
    if submit:
        return egress_request_submit(request=request, actor=requester)
    return request


@transaction.atomic
def egress_request_update(
    *, request: EgressRequest, actor: User, data: RequestInput, submit: bool = False
) -> EgressRequest:
    """Edit a draft, or a request sent back with changes requested. The team cannot change.
    With `submit`, the edited request is also submitted, in the same transaction (all or nothing)."""
    request = _lock(request)
    _refuse(request_edit_denial(actor, request))
    if request.status not in EDITABLE_REQUEST_STATES:
        raise TransitionNotAllowed(
            f"Request #{request.pk} is {request.get_status_display().lower()}; only drafts and requests "
            "with changes requested can be edited."
        )
    if data.team.pk != request.team_id:
        raise ValidationFailed.on("team", "The team of a request cannot change; create a new request instead.")
    before = _snapshot(request)
    identities, destinations, duration = request_input_validate(data, actor=actor)
    request.justification = data.justification.strip()
    request.ticket_url = data.ticket_url
    request.duration_days = duration
    request.save()
    request_items_write(request, identities, destinations)
    audit_event_record(
        event_type=AuditEventType.REQUEST_UPDATED,
        actor=actor,
        subject=request,
        egress_request=request,
        before=before,
        after=_snapshot(request),
    )
    if submit:
        return egress_request_submit(request=request, actor=actor)
    return request


@transaction.atomic
def egress_request_submit(*, request: EgressRequest, actor: User) -> EgressRequest:
    """Send a request for approval. Approval rules decide here: deny, approve, or which steps."""
    request = _lock(request)
    _refuse(request_submit_denial(actor, request))
    transition_check(request, RequestStatus.SUBMITTED)
    # Ownership may have changed since the draft was written: validate it again.
    identities = list(request.identities.select_related("namespace__cluster"))
    foreign = [str(i) for i in identities if i.namespace.team_id != request.team_id]
    if foreign:
        raise ValidationFailed.on(
            "identities", f"No longer in a namespace of team {request.team.slug}: {', '.join(foreign)}."
        )
    prefetch_related_objects([request], "destinations")  # read once, here and by the approval rules
    if not identities or not request.destinations.exists():
        raise ValidationFailed.on("destinations", "A request needs at least one identity and one destination.")

    plan = approval_plan_for(request, identities)
    rules = ", ".join(plan.deciding_rules) or "default"
    transition(
        request,
        RequestStatus.SUBMITTED,
        actor=actor,
        event_type=AuditEventType.REQUEST_SUBMITTED,
        fields={"round": request.round + 1, "submitted_at": timezone.now(), "decision_reason": ""},
        after={"round": request.round + 1, "rules": plan.deciding_rules},
    )
    if plan.outcome == RuleOutcome.DENY:
        transition(
            request,
            RequestStatus.REJECTED,
            actor=None,
            actor_repr=f"rule:{rules}",
            event_type=AuditEventType.REQUEST_DENIED_BY_RULE,
            fields={"decided_at": request.submitted_at, "decision_reason": plan.deny_reason},
            after={"rules": plan.deciding_rules},
            message=plan.deny_reason,
        )
        notify_requester_decision(
            request=request, decision="denied by policy", actor_name=rules, comment=plan.deny_reason
        )
        return request

    if plan.outcome == RuleOutcome.AUTO_APPROVE:
        egress_request_finalize_approval(
            request=request, actor=None, actor_repr=f"rule:{rules}", event_type=AuditEventType.REQUEST_AUTO_APPROVED
        )
        notify_requester_decision(request=request, decision="approved automatically", actor_name=f"rule {rules}")
        return request

    steps = ApprovalStep.objects.bulk_create(
        [
            ApprovalStep(
                request=request,
                round=request.round,
                position=position,
                name=step.name,
                team_id=step.team_id,
                required_approvals=step.required_approvals,
                status=StepStatus.PENDING if position == 1 else StepStatus.WAITING,
                rule_names=", ".join(step.rule_names)[:500],
            )
            for position, step in enumerate(plan.steps, start=1)
        ]
    )
    if steps[0].team_id == request.team_id:
        steps[0].team = request.team  # loaded with the lock: the notification needs no query for it
    notify_step_pending(request=request, step=steps[0])
    return request


@transaction.atomic
def egress_request_cancel(*, request: EgressRequest, actor: User, reason: str = "") -> EgressRequest:
    request = _lock(request)
    _refuse(request_cancel_denial(actor, request))
    transition(
        request,
        RequestStatus.CANCELLED,
        actor=actor,
        event_type=AuditEventType.REQUEST_CANCELLED,
        fields={"decided_at": (now := timezone.now()), "decision_reason": reason},
        message=reason,
    )
    steps_cancel_open(request=request, now=now)
    return request


@transaction.atomic
def egress_request_renew(*, grant: Grant, requester: User) -> EgressRequest:
    """A new draft pre-filled from a grant; it goes through approval like any request."""
    if not grant_is_renewable(grant):
        if grant.status == GrantStatus.REVOKED:
            raise TransitionNotAllowed(f"Grant #{grant.pk} was revoked; ask for the access again with a new request.")
        raise TransitionNotAllowed(f"Grant #{grant.pk} was superseded by a newer grant; renew that one.")
    if not can_renew_grant(requester, grant):
        raise PermissionDenied(f"You are not a member of team {grant.team.slug}.")
    original = grant.request
    data = RequestInput(
        team=grant.team,
        identities=[grant.identity],
        destinations=[
            DestinationInput(
                host=grant.host,
                port=grant.port,
                protocol=grant.protocol,
                expanded_hosts=list(grant.expanded_hosts),
                tcp_direct=grant.tcp_direct,
            )
        ],
        justification=f"Renewal of grant #{grant.pk}. {original.justification}"[:5000],
        ticket_url=original.ticket_url,
        duration_days=min(original.duration_days, settings.EGRESSUI_MAX_GRANT_DAYS),
    )
    return egress_request_create(requester=requester, data=data, renewal_of=grant)
