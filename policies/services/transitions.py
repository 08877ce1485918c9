"""The one place a request, an approval step or a grant changes status: check the move against its
table in `choices.py`, set it (with the fields that go with it), save, and audit — in the caller's
transaction. A move the table does not allow raises `TransitionNotAllowed` (HTTP 409)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from policies.choices import (
    GRANT_TRANSITIONS,
    REQUEST_TRANSITIONS,
    STEP_TRANSITIONS,
    AuditEventType,
    GrantStatus,
    RequestStatus,
    StepStatus,
    transition_allowed,
)
from policies.exceptions import TransitionNotAllowed
from policies.models import ApprovalStep, Cluster, EgressRequest, Grant
from policies.services.audit import AuditSubject, audit_event_record

Stateful = EgressRequest | ApprovalStep | Grant
MACHINES: dict[type, tuple[str, dict[str, frozenset[str]], type]] = {
    EgressRequest: ("Request", REQUEST_TRANSITIONS, RequestStatus),
    ApprovalStep: ("Step", STEP_TRANSITIONS, StepStatus),
    Grant: ("Grant", GRANT_TRANSITIONS, GrantStatus),
}


def transition_check(obj: Stateful, target: str) -> None:
    """Raise unless `obj` may move from its status to `target`."""
    noun, table, states = MACHINES[type(obj)]
    if not transition_allowed(table, obj.status, target):
        current, wanted = states(obj.status).label.lower(), states(target).label.lower()
        raise TransitionNotAllowed(f"{noun} #{obj.pk} is {current}; it cannot become {wanted}.")


def transition(
    obj: Stateful,
    target: str,
    *,
    actor: User | None,
    event_type: AuditEventType | None,
    actor_repr: str | None = None,
    fields: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    message: str = "",
    cluster: Cluster | None = None,
    subject: AuditSubject | None = None,
    egress_request: EgressRequest | None = None,
) -> None:
    """Move `obj` (locked by the caller) to `target`, setting `fields` with it, and record the event
    (`subject` and `egress_request` default to the object and its request). Requests and grants always
    get an event of their own; a step's move is part of a decision on its request, so
    `event_type=None` is allowed for steps only (the request's event, in the same transaction,
    records it)."""
    transition_check(obj, target)
    if event_type is None and not isinstance(obj, ApprovalStep):
        raise TypeError("every request and grant transition is audited")
    previous = obj.status
    obj.status = target
    for name, value in (fields or {}).items():
        setattr(obj, name, value)
    update_fields = ["status", *(fields or {})]
    if any(field.name == "updated_at" for field in obj._meta.concrete_fields):
        update_fields.append("updated_at")
    obj.save(update_fields=update_fields)
    if event_type is None:
        return
    if egress_request is None:
        egress_request = obj if isinstance(obj, EgressRequest) else obj.request
    audit_event_record(
        event_type=event_type,
        actor=actor,
        actor_repr=actor_repr,
        subject=subject if subject is not None else obj,
        egress_request=egress_request,
        cluster=cluster,
        before={**(before or {}), "status": previous},
        after={**(after or {}), "status": target},
        message=message,
    )


def steps_cancel_open(*, request: EgressRequest, now: datetime) -> None:
    """The steps of the current round that can no longer be decided (the request was cancelled or
    decided on another step): recorded by the request's event."""
    open_steps = request.steps.select_for_update().filter(
        round=request.round, status__in=[StepStatus.PENDING, StepStatus.WAITING]
    )
    for step in open_steps:
        transition(step, StepStatus.CANCELLED, actor=None, event_type=None, fields={"decided_at": now})
