"""Writes on egress requests: create and edit drafts, submit, cancel, renew."""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from policies.choices import EDITABLE_REQUEST_STATES, AuditEventType, RequestStatus, RuleOutcome, StepStatus
from policies.constants import MAX_DESTINATIONS_PER_REQUEST, MAX_IDENTITIES_PER_REQUEST
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApprovalStep, EgressRequest, Grant, RequestDestination, Team, WorkloadIdentity
from policies.permissions import (
    can_renew_grant,
    can_request_for_team,
    request_cancel_denial,
    request_edit_denial,
    request_submit_denial,
)
from policies.services.audit import audit_event_record
from policies.services.transitions import steps_cancel_open, transition, transition_check
from policies.validators import validate_destination_input


@dataclass
class DestinationInput:
    host: str
    port: int | str
    protocol: str = "tls"
    expanded_hosts: list[str] = field(default_factory=list)
    tcp_direct: bool = False


@dataclass
class RequestInput:
    """What a requester fills in; validated as a whole so every problem is reported at once."""

    team: Team
    identities: list[WorkloadIdentity]
    destinations: list[DestinationInput]
    justification: str
    ticket_url: str = ""
    duration_days: int | str | None = None


def _errors_add(errors: dict[str, list[str]], field_name: str, message: str) -> None:
    errors.setdefault(field_name, []).append(message)


def _validated(data: RequestInput, *, actor: User) -> tuple[list[WorkloadIdentity], list[dict], int]:
    errors: dict[str, list[str]] = {}
    if not can_request_for_team(actor, data.team):
        raise PermissionDenied(f"You are not a member of team {data.team.slug}.")

    identities: list[WorkloadIdentity] = []
    for identity in data.identities:
        if identity.pk not in {i.pk for i in identities}:
            identities.append(identity)
    if not identities:
        _errors_add(errors, "identities", "Choose at least one workload identity.")
    elif len(identities) > MAX_IDENTITIES_PER_REQUEST:
        _errors_add(errors, "identities", f"Choose at most {MAX_IDENTITIES_PER_REQUEST} workload identities.")
    for identity in identities:
        if identity.namespace.team_id != data.team.pk:
            _errors_add(errors, "identities", f"{identity} is not in a namespace of team {data.team.slug}.")

    destinations: list[dict] = []
    seen: set[tuple] = set()
    if not data.destinations:
        _errors_add(errors, "destinations", "Add at least one destination.")
    elif len(data.destinations) > MAX_DESTINATIONS_PER_REQUEST:
        _errors_add(errors, "destinations", f"Add at most {MAX_DESTINATIONS_PER_REQUEST} destinations.")
    for index, item in enumerate(data.destinations[:MAX_DESTINATIONS_PER_REQUEST]):
        try:
            valid = validate_destination_input(item)
        except ValidationFailed as exc:
            for field_name, messages in exc.fields.items():
                for message in messages:
                    _errors_add(errors, f"destinations.{index}.{field_name}", message)
            continue
        key = (valid.host, valid.port, valid.protocol)
        if key in seen:
            _errors_add(
                errors, f"destinations.{index}.host", f"{valid.host}:{valid.port} ({valid.protocol}) is listed twice."
            )
            continue
        seen.add(key)
        if item.tcp_direct and valid.protocol != "tcp":
            _errors_add(errors, f"destinations.{index}.tcp_direct", "Direct access is only possible for tcp.")
            continue
        destinations.append(
            {
                "host": valid.host,
                "port": valid.port,
                "protocol": valid.protocol,
                "expanded_hosts": list(valid.expanded_hosts),
                "tcp_direct": bool(item.tcp_direct),
            }
        )

    if not (data.justification or "").strip():
        _errors_add(errors, "justification", "Explain why the workloads need this access.")
    elif len(data.justification) > 5000:
        _errors_add(errors, "justification", "Keep the justification under 5000 characters.")
    if data.ticket_url:
        try:
            URLValidator(schemes=["http", "https"])(data.ticket_url)
        except DjangoValidationError:
            _errors_add(errors, "ticket_url", "Enter a full http(s) link to the ticket.")

    raw_duration = data.duration_days
    if raw_duration in (None, ""):
        raw_duration = settings.EGRESSUI_DEFAULT_GRANT_DAYS
    try:
        duration = int(raw_duration)  # type: ignore[arg-type]  # not None: replaced by the default above
    except (TypeError, ValueError):
        _errors_add(errors, "duration_days", "Enter the duration as a whole number of days.")
        duration = 0
    else:
        if not 1 <= duration <= settings.EGRESSUI_MAX_GRANT_DAYS:
            _errors_add(errors, "duration_days", f"The duration must be 1–{settings.EGRESSUI_MAX_GRANT_DAYS} days.")

    if errors:
        first_field = next(iter(errors))
        raise ValidationFailed(f"{first_field}: {errors[first_field][0]}", fields=errors)
    return identities, destinations, duration


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


def _write_items(request: EgressRequest, identities, destinations, *, new: bool = False) -> None:
    """Replace the request's identities and destinations; a `new` request has none to read first."""
    if new:
        request.identities.add(*identities)
    else:
        request.identities.set(identities)
        request.destinations.all().delete()
    RequestDestination.objects.bulk_create([RequestDestination(request=request, **d) for d in destinations])


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
    identities, destinations, duration = _validated(data, actor=requester)
    request = EgressRequest.objects.create(
        team=data.team,
        requester=requester,
        justification=data.justification.strip(),
        ticket_url=data.ticket_url,
        duration_days=duration,
        renewal_of=renewal_of,
    )
    _write_items(request, identities, destinations, new=True)
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
    identities, destinations, duration = _validated(data, actor=actor)
    request.justification = data.justification.strip()
    request.ticket_url = data.ticket_url
    request.duration_days = duration
    request.save()
    _write_items(request, identities, destinations)
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
    from policies.services.approvals import approval_plan_for, egress_request_finalize_approval
    from policies.services.notifications import notify_requester_decision, notify_step_pending

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
