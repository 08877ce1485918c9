"""Notifications are sent after commit by Celery tasks, so a slow or failing mail server or webhook
never blocks or rolls back the workflow. These functions only decide who hears about what."""

import logging

from celery import Task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from policies.choices import TeamRole
from policies.models import ApprovalStep, EgressRequest, Grant, Team
from policies.selectors.requests import pending_step
from policies.tasks import send_email_task, send_webhook_task

logger = logging.getLogger(__name__)


def _link(view_name: str, pk: int) -> str:
    try:
        return settings.EGRESSUI_BASE_URL + reverse(view_name, args=[pk])
    except NoReverseMatch:
        return settings.EGRESSUI_BASE_URL


def _enqueue_on_commit(task: Task, what: str, **kwargs: object) -> None:
    """Queue `task` once the transaction commits; a broker that is down loses this one notice (logged),
    never the workflow that caused it."""

    def send() -> None:
        try:
            task.delay(**kwargs)
        except Exception as exc:
            logger.warning("could not enqueue %s: %s", what, exc)

    transaction.on_commit(send)


def _enqueue_email(subject: str, template: str, context: dict, recipients: list[str]) -> None:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return
    body = render_to_string(template, context)
    _enqueue_on_commit(send_email_task, f"email {subject!r}", subject=subject, body=body, recipients=recipients)


def _enqueue_webhook(team: Team, event: str, payload: dict) -> None:
    if not team.webhook_url:
        return
    _enqueue_on_commit(send_webhook_task, f"webhook for team {team.pk}", team_id=team.pk, event=event, payload=payload)


def _approvers_of(team_id: int, *, exclude_user_id: int | None) -> list[str]:
    users = get_user_model().objects.filter(
        team_memberships__team_id=team_id, team_memberships__role=TeamRole.APPROVER, is_active=True
    )
    if exclude_user_id:
        users = users.exclude(pk=exclude_user_id)
    return list(users.values_list("email", flat=True))


def _team_addresses(team: Team) -> list[str]:
    """Where news for a whole team goes: its own address, else its approvers."""
    return [team.email] if team.email else _approvers_of(team.pk, exclude_user_id=None)


def _request_payload(request: EgressRequest) -> dict:
    return {
        "request_id": request.pk,
        "team": request.team.slug,
        "status": request.status,
        "requester": request.requester.get_username(),
        "url": _link("request_detail", request.pk),
    }


def notify_step_pending(*, request: EgressRequest, step: ApprovalStep) -> None:
    context = {"request": request, "step": step, "url": _link("request_detail", request.pk)}
    _enqueue_email(
        f"[egressui] Request #{request.pk} waits for your approval ({step.name})",
        "policies/email/step_pending.txt",
        context,
        _approvers_of(step.team_id, exclude_user_id=request.requester_id),
    )
    _enqueue_webhook(step.team, "approval.pending", {**_request_payload(request), "step": step.name})


def notify_requester_decision(*, request: EgressRequest, decision: str, actor_name: str, comment: str = "") -> None:
    context = {
        "request": request,
        "decision": decision,
        "actor_name": actor_name,
        "comment": comment,
        "url": _link("request_detail", request.pk),
    }
    _enqueue_email(
        f"[egressui] Request #{request.pk}: {decision}",
        "policies/email/decision.txt",
        context,
        [request.requester.email],
    )
    _enqueue_webhook(request.team, f"request.{request.status}", {**_request_payload(request), "comment": comment})


def notify_request_commented(*, request: EgressRequest, author: User, body: str) -> None:
    """The other side of the conversation hears of a comment: the requester, and the approvers who
    may decide the step now waiting (never the author)."""
    recipients = [request.requester.email]
    step = pending_step(request)
    if step is not None and step.team_id:
        recipients += _approvers_of(step.team_id, exclude_user_id=request.requester_id)
    author_name = author.get_username()
    context = {"request": request, "author": author_name, "body": body, "url": _link("request_detail", request.pk)}
    _enqueue_email(
        f"[egressui] Request #{request.pk}: comment by {author_name}",
        "policies/email/comment.txt",
        context,
        [address for address in recipients if address != author.email],
    )
    _enqueue_webhook(
        request.team, "request.commented", {**_request_payload(request), "author": author_name, "comment": body}
    )


def notify_break_glass(*, request: EgressRequest, grants: list[Grant], hours: int) -> None:
    """Break-glass access skips every approval, so the owning team hears of it at once: its
    address (or its approvers) by email, and its webhook."""
    team = request.team
    context = {
        "request": request,
        "grants": grants,
        "hours": hours,
        "admin": request.requester.get_username(),
        "url": _link("request_detail", request.pk),
    }
    _enqueue_email(
        f"[egressui] Break-glass access for team {team.slug} by {context['admin']} ({hours} h)",
        "policies/email/break_glass.txt",
        context,
        _team_addresses(team),
    )
    _enqueue_webhook(
        team,
        "grant.break_glass",
        {
            **_request_payload(request),
            "grant_ids": [grant.pk for grant in grants],
            "hours": hours,
            "reason": request.decision_reason,
        },
    )


def notify_grant_expiring(*, grant: Grant, days: int) -> None:
    team = grant.team
    context = {"grant": grant, "days": days, "url": _link("grant_detail", grant.pk)}
    _enqueue_email(
        f"[egressui] Grant #{grant.pk} for {grant.host} expires in {days} day{'s' if days != 1 else ''}",
        "policies/email/grant_expiring.txt",
        context,
        _team_addresses(team),
    )
    _enqueue_webhook(
        team,
        "grant.expiring",
        {"grant_id": grant.pk, "host": grant.host, "expires_at": grant.expires_at.isoformat(), "days": days},
    )


def notify_grant_ended(*, grant: Grant, reason: str) -> None:
    _enqueue_webhook(grant.team, f"grant.{grant.status}", {"grant_id": grant.pk, "host": grant.host, "reason": reason})


def notify_grants_unused(*, team: Team, grants: list[Grant], days: int) -> None:
    """One digest per team: its grants without traffic for `days` days (see services.usage_notices)."""
    context = {
        "team": team,
        "days": days,
        "retention": settings.EGRESSUI_ACCESS_RETENTION_DAYS,
        "grants": [{"grant": grant, "url": _link("grant_detail", grant.pk)} for grant in grants],
        "report_url": _page_link("unused_grants"),
    }
    count = len(grants)
    _enqueue_email(
        f"[egressui] {count} grant{'s' if count != 1 else ''} of team {team.slug} unused for {days} days",
        "policies/email/grants_unused.txt",
        context,
        _team_addresses(team),
    )


def _page_link(view_name: str) -> str:
    try:
        return settings.EGRESSUI_BASE_URL + reverse(view_name)
    except NoReverseMatch:
        return settings.EGRESSUI_BASE_URL
