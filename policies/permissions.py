"""Who may see and do what. The UI and the API call these same functions; nothing else decides.

Rules: platform admins see everything; a team member sees and acts for their teams; approvers
see requests waiting on steps they may satisfy; nobody approves their own request, and one person
approves at most one step of a request per submission round.
"""

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from policies.actors import Viewer
from policies.choices import (
    EDITABLE_REQUEST_STATES,
    REQUEST_TRANSITIONS,
    Decision,
    EnforcementSwitchRole,
    GrantStatus,
    NamespaceEnforcement,
    RequestStatus,
    StepStatus,
    TeamRole,
    transition_allowed,
)
from policies.models import (
    AccessRecord,
    ApiToken,
    ApprovalStep,
    AuditEvent,
    EgressRequest,
    Grant,
    Namespace,
    Team,
    TeamMembership,
    WorkloadIdentity,
)


def is_platform_admin(user: Viewer) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_egressui_is_admin", None)
    if cached is None:
        cached = user.groups.filter(name=settings.EGRESSUI_ADMIN_GROUP).exists()
        cast(Any, user)._egressui_is_admin = cached
    return cached


def _roles(user: Viewer) -> dict[int, str]:
    """team id → role, cached on the user object for the duration of a request."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, "_egressui_roles", None)
    if cached is None:
        cached = dict(TeamMembership.objects.filter(user=cast(User, user)).values_list("team_id", "role"))
        cast(Any, user)._egressui_roles = cached
    return cached


def member_team_ids(user: Viewer) -> set[int]:
    return set(_roles(user))


def approver_team_ids(user: Viewer) -> set[int]:
    return {team_id for team_id, role in _roles(user).items() if role == TeamRole.APPROVER}


def can_request_for_team(user: Viewer, team: Team) -> bool:
    return is_platform_admin(user) or team.pk in member_team_ids(user)


def can_request_for_identity(user: Viewer, identity: WorkloadIdentity) -> bool:
    return is_platform_admin(user) or identity.namespace.team_id in member_team_ids(user)


def visible_identities(user: Viewer) -> QuerySet[WorkloadIdentity]:
    """Identities a user may request for: those in their teams' namespaces (admins: all)."""
    if is_platform_admin(user):
        return WorkloadIdentity.objects.all()
    return WorkloadIdentity.objects.filter(namespace__team_id__in=member_team_ids(user))


# Who sees a request and the grants it produced: platform admins, the members of its team, and the
# approvers asked to decide it (a step of one of their teams): visible_requests / can_view_request
# and visible_grants / can_view_grant apply this one rule.
def _team_or_asked(model: type[EgressRequest] | type[Grant], user: Viewer, *, request_field: str) -> QuerySet:
    if is_platform_admin(user):
        return model.objects.all()
    if not getattr(user, "is_authenticated", False):
        return model.objects.none()
    condition = Q(team_id__in=member_team_ids(user))
    approver_teams = approver_team_ids(user)
    if approver_teams:
        asked = ApprovalStep.objects.filter(team_id__in=approver_teams).values("request_id")
        condition |= Q(**{f"{request_field}__in": asked})
    return model.objects.filter(condition)


def _is_team_or_asked(user: Viewer, *, team_id: int, request_id: int) -> bool:
    if is_platform_admin(user) or team_id in member_team_ids(user):
        return True
    approver_teams = approver_team_ids(user)
    return (
        bool(approver_teams) and ApprovalStep.objects.filter(request_id=request_id, team_id__in=approver_teams).exists()
    )


def visible_requests(user: Viewer) -> QuerySet[EgressRequest]:
    return _team_or_asked(EgressRequest, user, request_field="pk")


def can_view_request(user: Viewer, request: EgressRequest) -> bool:
    return _is_team_or_asked(user, team_id=request.team_id, request_id=request.pk)


def can_see_full_preview(user: Viewer, request: EgressRequest | None) -> bool:
    """A preview shows shared objects that list every team granted the same host. In full for
    platform admins and for approvers asked to decide the request (they judge its effect); everyone
    else sees other teams' principals, namespaces and grant ids masked."""
    if is_platform_admin(user):
        return True
    approver_teams = approver_team_ids(user)
    if request is None or request.pk is None or not approver_teams:
        return False
    return ApprovalStep.objects.filter(request_id=request.pk, team_id__in=approver_teams).exists()


def can_comment_request(user: Viewer, request: EgressRequest) -> bool:
    """Everyone who may see a request may discuss it: its team, the approvers asked, admins."""
    return can_view_request(user, request)


# Who may edit, submit or cancel a request, whatever its state: the services raise these reasons as
# PermissionDenied; whether the state allows it is the transition table's answer (TransitionNotAllowed).
# The can_* functions combine both, for buttons and the API's allowed_actions.
def request_edit_denial(user: Viewer, request: EgressRequest) -> str | None:
    if request.requester_id is None or request.requester_id != user.pk:
        return "Only the requester can edit a request."
    return None


def request_submit_denial(user: Viewer, request: EgressRequest) -> str | None:
    if request.requester_id == user.pk or is_platform_admin(user):
        return None
    return "Only the requester or a platform admin can submit a request."


def request_cancel_denial(user: Viewer, request: EgressRequest) -> str | None:
    if request.requester_id == user.pk or is_platform_admin(user):
        return None
    return "Only the requester or a platform admin can cancel a request."


def can_edit_request(user: Viewer, request: EgressRequest) -> bool:
    return request.status in EDITABLE_REQUEST_STATES and request_edit_denial(user, request) is None


def can_submit_request(user: Viewer, request: EgressRequest) -> bool:
    allowed = transition_allowed(REQUEST_TRANSITIONS, request.status, RequestStatus.SUBMITTED)
    return allowed and request_submit_denial(user, request) is None


def can_cancel_request(user: Viewer, request: EgressRequest) -> bool:
    allowed = transition_allowed(REQUEST_TRANSITIONS, request.status, RequestStatus.CANCELLED)
    return allowed and request_cancel_denial(user, request) is None


def current_step(request: EgressRequest) -> ApprovalStep | None:
    """The step that can be acted on now: the lowest pending position of the current round."""
    if request.status != RequestStatus.SUBMITTED:
        return None
    return request.steps.filter(round=request.round, status=StepStatus.PENDING).order_by("position").first()


def step_denial_reason(user: Viewer, request: EgressRequest, step: ApprovalStep | None) -> str | None:
    """Why `user` may not decide on `step` now, or None when they may."""
    if not getattr(user, "is_authenticated", False):
        return "Sign in to act on approvals."
    if request.status != RequestStatus.SUBMITTED or step is None:
        return f"Request #{request.pk} is {request.get_status_display().lower()}; it is not waiting for approval."
    if request.requester_id == user.pk:
        return "You cannot decide on your own request."
    if not (is_platform_admin(user) or step.team_id in approver_team_ids(user)):
        return f"The step '{step.name}' needs an approver of team {step.team.slug}."
    already = request.decisions.filter(round=request.round, user=cast(User, user), decision=Decision.APPROVE)
    if already.exclude(step=step).exists():
        return "You already approved another step of this request; a different person must decide this one."
    if already.filter(step=step).exists():
        return "You already approved this step; it needs another approver."
    return None


def can_approve(user: Viewer, request: EgressRequest) -> bool:
    return step_denial_reason(user, request, current_step(request)) is None


def steps_awaiting(user: Viewer) -> QuerySet[ApprovalStep]:
    """Pending steps this user could act on (their own requests excluded)."""
    steps = ApprovalStep.objects.filter(status=StepStatus.PENDING, request__status=RequestStatus.SUBMITTED)
    return steps_in_approver_teams(user, steps).exclude(request__requester_id=user.pk)


def steps_in_approver_teams(user: Viewer, steps: QuerySet[ApprovalStep]) -> QuerySet[ApprovalStep]:
    """Those of `steps` the user's approver roles cover (all of them for platform admins)."""
    if is_platform_admin(user):
        return steps
    return steps.filter(team_id__in=approver_team_ids(user))


def visible_grants(user: Viewer) -> QuerySet[Grant]:
    """A team's grants, and to approvers the grants of the requests they were asked to decide."""
    return _team_or_asked(Grant, user, request_field="request_id")


def can_view_grant(user: Viewer, grant: Grant) -> bool:
    return _is_team_or_asked(user, team_id=grant.team_id, request_id=grant.request_id)


def can_revoke_grant(user: Viewer, grant: Grant) -> bool:
    return is_platform_admin(user) or grant.team_id in approver_team_ids(user)


def grant_is_renewable(grant: Grant) -> bool:
    """Active or expired grants can be renewed. Not a revoked one (it was ended on purpose: ask
    again), nor one superseded by a newer approval (renew that one)."""
    return grant.status in (GrantStatus.ACTIVE, GrantStatus.EXPIRED)


def can_renew_grant(user: Viewer, grant: Grant) -> bool:
    return grant_is_renewable(grant) and (grant.team_id in member_team_ids(user) or is_platform_admin(user))


def visible_access_records(user: Viewer) -> QuerySet[AccessRecord]:
    """Egress traffic of a team's namespaces is the team's to see; traffic from principals no team
    owns (unknown namespaces, other trust domains, no identity logged) only platform admins see."""
    if is_platform_admin(user):
        return AccessRecord.objects.all()
    if not getattr(user, "is_authenticated", False):
        return AccessRecord.objects.none()
    return AccessRecord.objects.filter(namespace__team_id__in=member_team_ids(user))


def visible_namespaces(user: Viewer) -> QuerySet[Namespace]:
    """A team's namespaces are its members' to see; other teams' namespaces do not exist for them."""
    if is_platform_admin(user):
        return Namespace.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Namespace.objects.none()
    return Namespace.objects.filter(team_id__in=member_team_ids(user))


def can_view_namespace(user: Viewer, namespace: Namespace) -> bool:
    return is_platform_admin(user) or namespace.team_id in member_team_ids(user)


def enforcement_switch_denial(user: Viewer, namespace: Namespace, enforcement: str = "") -> str | None:
    """Why `user` may not switch `namespace` between observe and enforce, or None when they may.
    Platform admins always may; who else is EGRESSUI_ENFORCEMENT_SWITCH_ROLE's choice."""
    if not getattr(user, "is_authenticated", False):
        return "Sign in to change a namespace's enforcement."
    if is_platform_admin(user):
        return None
    role = settings.EGRESSUI_ENFORCEMENT_SWITCH_ROLE
    verb = "enforce" if enforcement == NamespaceEnforcement.ENFORCE else "switch"
    if role == EnforcementSwitchRole.ADMIN:
        return f"Only platform admins can {verb} namespace {namespace.name}."
    if role == EnforcementSwitchRole.MEMBER:
        allowed, who = namespace.team_id in member_team_ids(user), "members"
    else:
        allowed, who = namespace.team_id in approver_team_ids(user), "approvers"
    if allowed:
        return None
    return f"Only {who} of team {namespace.team.slug} or platform admins can {verb} namespace {namespace.name}."


def can_switch_enforcement(user: Viewer, namespace: Namespace) -> bool:
    return enforcement_switch_denial(user, namespace) is None


def can_add_identity(user: Viewer, namespace: Namespace) -> bool:
    """Team members type in identities for their own namespaces (discovery adds the others)."""
    return is_platform_admin(user) or namespace.team_id in member_team_ids(user)


def can_manage_clusters(user: Viewer) -> bool:
    return is_platform_admin(user)


def can_see_cluster_errors(user: Viewer) -> bool:
    """A cluster's error texts and status details: they describe its connection and every team's
    objects, so platform admins only; others see that a sync failed, not why."""
    return is_platform_admin(user)


def can_manage_teams(user: Viewer) -> bool:
    return is_platform_admin(user)


def can_manage_rules(user: Viewer) -> bool:
    """Approval rules, their steps and domain lists decide who approves what: platform admins only."""
    return is_platform_admin(user)


# Account changes that would take a platform admin's own access away (a lock-out, or the last
# admin gone); `user_change_denial` refuses them for the actor's own account.
_SELF_LOCKOUT = {"is_active": False, "is_staff": False, "is_superuser": False, "platform_admin": False}


def user_change_denial(actor: Viewer, user: Viewer, changes: dict) -> str | None:
    """Why `actor` may not apply `changes` (field → new value; `platform_admin` for membership of
    the platform-admin group) to `user`'s account, or None when they may. Platform admins manage
    accounts; superuser status, and accounts that have it, are for superusers only (a group admin
    must not be able to make themselves or anyone else all-powerful)."""
    if not is_platform_admin(actor):
        return "Only platform admins can change user accounts."
    if not actor.is_superuser and (user.is_superuser or "is_superuser" in changes):
        return "Only superusers can grant or withdraw superuser status, or change a superuser's account."
    if user.pk is not None and user.pk == actor.pk:
        for field, value in _SELF_LOCKOUT.items():
            if field in changes and changes[field] == value:
                return f"You cannot remove your own admin access ({field})."
    return None


def group_change_denial(actor: Viewer, *, name: str, new_name: str | None = None, delete: bool = False) -> str | None:
    """Why `actor` may not rename/delete/edit group `name`, or None. The platform-admin group is named
    in the settings: renaming or deleting it would silently demote every platform admin."""
    if not is_platform_admin(actor):
        return "Only platform admins can change groups."
    if name == settings.EGRESSUI_ADMIN_GROUP and (delete or (new_name is not None and new_name != name)):
        return f"The group {name} is the platform-admin group (EGRESSUI_ADMIN_GROUP); it cannot be renamed or deleted."
    return None


def can_break_glass(user: Viewer) -> bool:
    return is_platform_admin(user)


def can_create_token(actor: Viewer | None, owner: Viewer) -> bool:
    """A token acts with all of its owner's rights, so only owners create their own tokens;
    `actor=None` is the operator's command line (`create_api_token`)."""
    return actor is None or actor.pk == owner.pk


def can_revoke_token(user: Viewer | None, token: ApiToken) -> bool:
    """Owners revoke their own tokens; platform admins any (incidents). `user=None` is the operator."""
    return user is None or user.pk == token.user_id or is_platform_admin(user)


def visible_audit_events(user: Viewer) -> QuerySet[AuditEvent]:
    if is_platform_admin(user):
        return AuditEvent.objects.all()
    if not getattr(user, "is_authenticated", False):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(egress_request__in=visible_requests(user).values("pk"))
