"""Writes on grants: creation on approval, revocation, expiry, break-glass, expiry reminders."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from policies.actors import Actor
from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.grant_key import grant_copies, key_filter
from policies.models import EgressRequest, Grant
from policies.permissions import can_break_glass, can_revoke_grant
from policies.services.audit import audit_event_record
from policies.services.notifications import notify_break_glass, notify_grant_ended, notify_grant_expiring
from policies.services.outbox import cluster_mark_for_reconcile
from policies.services.request_inputs import RequestInput, request_from_input
from policies.services.transitions import transition, transition_check


def _grant_state(grant: Grant) -> dict:
    return {
        "status": grant.status,
        "identity": str(grant.identity),
        "destination": f"{grant.host}:{grant.port}/{grant.protocol}",
        "expires_at": grant.expires_at,
    }


def grants_create_for_request(
    *, request: EgressRequest, actor: Actor, actor_repr: str | None = None, lifetime: timedelta | None = None
) -> list[Grant]:
    """One grant per identity × destination of an approved (locked) request. An active grant under the
    same key (`policies.grant_key`) is superseded (it ends now) so there is never more than one."""
    now = timezone.now()
    expires_at = now + (lifetime or timedelta(days=request.duration_days))
    identities = list(request.identities.select_related("namespace__cluster"))
    destinations = list(request.destinations.all())
    created: list[Grant] = []
    for identity in identities:
        for destination in destinations:
            previous = (
                Grant.objects.select_for_update()
                .filter(identity=identity, status=GrantStatus.ACTIVE, **key_filter(destination))
                .first()
            )
            if previous is not None:
                # Ended before the new one exists (one active grant per identity and destination); the new
                # grant's id is added below, and its own grant.created event names the grant it supersedes.
                transition(
                    previous,
                    GrantStatus.SUPERSEDED,
                    actor=actor,
                    actor_repr=actor_repr,
                    event_type=AuditEventType.GRANT_SUPERSEDED,
                    fields={"ended_at": now},
                    egress_request=request,
                    cluster=identity.namespace.cluster,
                    after={"superseded_by_request": request.pk},
                )
            grant = Grant.objects.create(
                request=request,
                destination=destination,
                identity=identity,
                cluster=identity.namespace.cluster,
                team_id=request.team_id,
                break_glass=request.break_glass,
                valid_from=now,
                expires_at=expires_at,
                **grant_copies(destination),
            )
            if previous is not None:
                previous.superseded_by = grant
                previous.end_reason = f"Superseded by grant #{grant.pk} (request #{request.pk})."
                previous.save(update_fields=["superseded_by", "end_reason"])
            audit_event_record(
                event_type=AuditEventType.GRANT_CREATED,
                actor=actor,
                actor_repr=actor_repr,
                subject=grant,
                egress_request=request,
                cluster=grant.cluster,
                after={**_grant_state(grant), "supersedes": previous.pk if previous is not None else None},
            )
            created.append(grant)
    cluster_mark_for_reconcile(
        cluster_ids={grant.cluster_id for grant in created}, reason=f"request #{request.pk} approved"
    )
    return created


def _end(grant: Grant, *, status: str, actor: Actor, reason: str, event_type: AuditEventType) -> Grant:
    state = _grant_state(grant)  # what stays the same; the status is the transition's
    transition(
        grant,
        status,
        actor=actor,
        event_type=event_type,
        fields={"ended_at": timezone.now(), "ended_by": actor, "end_reason": reason},
        cluster=grant.cluster,
        before=state,
        after=state,
        message=reason,
    )
    cluster_mark_for_reconcile(cluster_ids=[grant.cluster_id], reason=f"grant #{grant.pk} {status}")
    notify_grant_ended(grant=grant, reason=reason)
    return grant


@transaction.atomic
def grant_revoke(*, grant: Grant, actor: User, reason: str) -> Grant:
    """Take access away now; the cluster loses it on the next reconcile (queued on commit)."""
    grant = Grant.objects.select_for_update().select_related("team", "cluster", "request", "identity").get(pk=grant.pk)
    if not can_revoke_grant(actor, grant):
        raise PermissionDenied(f"Only approvers of team {grant.team.slug} or platform admins can revoke this grant.")
    transition_check(grant, GrantStatus.REVOKED)
    if not reason.strip():
        raise ValidationFailed.on("reason", "Give a reason for revoking the grant.")
    return _end(
        grant, status=GrantStatus.REVOKED, actor=actor, reason=reason.strip(), event_type=AuditEventType.GRANT_REVOKED
    )


def grants_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every active grant whose time is up, in small transactions; returns how many."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Grant.objects.select_for_update(skip_locked=True)
                .select_related("team", "cluster", "request", "identity__namespace__cluster")
                .filter(status=GrantStatus.ACTIVE, expires_at__lte=now)
                .order_by("expires_at", "id")[:batch_size]
            )
            for grant in due:
                _end(
                    grant,
                    status=GrantStatus.EXPIRED,
                    actor=None,
                    reason="Expired.",
                    event_type=AuditEventType.GRANT_EXPIRED,
                )
        total += len(due)
        if len(due) < batch_size:
            return total


@transaction.atomic
def grant_break_glass(*, admin: User, data: RequestInput, reason: str, duration_hours: int) -> EgressRequest:
    """Emergency access by a platform admin, without approval steps: short, flagged and audited.
    A request record is kept so the grant has the same history as others."""
    if not can_break_glass(admin):
        raise PermissionDenied("Only platform admins can grant break-glass access.")
    if not (reason or "").strip():
        raise ValidationFailed.on("reason", "Break-glass access needs a reason.")
    try:
        hours = int(duration_hours)
    except (TypeError, ValueError):
        raise ValidationFailed.on("duration_hours", "Enter the duration in whole hours.") from None
    if not 1 <= hours <= settings.EGRESSUI_BREAK_GLASS_MAX_HOURS:
        raise ValidationFailed.on(
            "duration_hours", f"Break-glass access lasts 1–{settings.EGRESSUI_BREAK_GLASS_MAX_HOURS} hours."
        )
    data.duration_days = max(1, math.ceil(hours / 24))
    data.justification = data.justification or reason
    now = timezone.now()
    request = request_from_input(
        data,
        requester=admin,
        break_glass=True,
        status=RequestStatus.SUBMITTED,  # and approved at once, by the admin, below
        submitted_at=now,
    )
    transition(
        request,
        RequestStatus.APPROVED,
        actor=admin,
        event_type=AuditEventType.GRANT_BREAK_GLASS,
        fields={"decided_at": now, "decision_reason": reason.strip()},
        after={"duration_hours": hours},
        message=reason.strip(),
    )
    grants = grants_create_for_request(request=request, actor=admin, lifetime=timedelta(hours=hours))
    notify_break_glass(request=request, grants=grants, hours=hours)
    return request


def grants_send_expiry_notices(*, now: datetime | None = None) -> int:
    """Remind owning teams `EGRESSUI_EXPIRY_NOTICE_DAYS` before expiry, once per threshold."""
    now = now or timezone.now()
    thresholds = sorted(set(settings.EGRESSUI_EXPIRY_NOTICE_DAYS))
    if not thresholds:
        return 0
    sent = 0
    horizon = now + timedelta(days=max(thresholds))
    candidates = Grant.objects.filter(status=GrantStatus.ACTIVE, expires_at__gt=now, expires_at__lte=horizon)
    for grant_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                Grant.objects.select_for_update(skip_locked=True)
                .select_related("team", "identity__namespace__cluster")
                .filter(pk=grant_id, status=GrantStatus.ACTIVE)
                .first()
            )
            if grant is None:
                continue
            remaining = grant.expires_at - now
            due = [
                days
                for days in thresholds
                if remaining <= timedelta(days=days) and days not in grant.expiry_notices_sent
            ]
            if not due:
                continue
            notify_grant_expiring(grant=grant, days=max(1, math.ceil(remaining.total_seconds() / 86400)))
            grant.expiry_notices_sent = sorted({*grant.expiry_notices_sent, *due})
            grant.save(update_fields=["expiry_notices_sent"])
            sent += 1
    return sent
