"""Team memberships: set by platform admins (who is an approver decides who approves), or following
an identity provider's groups (OpenID Connect sign-in)."""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from policies.actors import Actor
from policies.choices import AuditEventType, TeamRole
from policies.models import Team, TeamMembership
from policies.permissions import can_manage_teams
from policies.services.audit import audit_event_record
from policies.services.config import config_create, config_delete, config_update, require

MEMBERSHIP_FIELDS = ("team", "user", "role")
DENIED = "Only platform admins can change team memberships."


@transaction.atomic
def team_membership_create(*, actor: Actor, team: Team, user: User, role: str = TeamRole.MEMBER) -> TeamMembership:
    """Add `user` to `team`; an approver may also satisfy approval steps that name the team."""
    require(actor is None or can_manage_teams(actor), DENIED)
    return config_create(
        actor=actor,
        model=TeamMembership,
        fields={"team": team, "user": user, "role": role},
        allowed=MEMBERSHIP_FIELDS,
    )


@transaction.atomic
def team_membership_update(*, membership: TeamMembership, actor: Actor, **fields: str) -> TeamMembership:
    """Promote a member to approver or back (`role`); the team and the person of a membership are
    fixed (remove it and add another)."""
    require(actor is None or can_manage_teams(actor), DENIED)
    return config_update(actor=actor, instance=membership, fields=fields, allowed=("role",))


@transaction.atomic
def team_membership_delete(*, membership: TeamMembership, actor: Actor) -> None:
    require(actor is None or can_manage_teams(actor), DENIED)
    config_delete(actor=actor, instance=membership, fields=MEMBERSHIP_FIELDS)


OIDC_ACTOR = "oidc"


def _membership_subject(membership: TeamMembership) -> tuple[str, int, str]:
    return ("teammembership", membership.pk, f"{membership.user.get_username()} in {membership.team.slug}")


@transaction.atomic
def team_memberships_sync_from_groups(*, user: User, groups: Iterable[str]) -> tuple[list[str], list[str]]:
    """Make the user's memberships of teams mapped to a group (`Team.oidc_group`) match the groups the
    identity provider vouches for at sign-in: join the teams whose group is listed, leave those whose
    group is not. Teams without a group are managed by hand and left alone; an existing role (an
    approver is promoted by an admin) is kept. Returns the team slugs joined and left."""
    wanted = {str(group).strip() for group in groups if str(group).strip()}
    mapped = list(Team.objects.exclude(oidc_group="").order_by("slug"))
    current = {
        membership.team_id: membership
        for membership in TeamMembership.objects.select_for_update()
        .filter(user=user, team__in=mapped)
        .select_related("team", "user")
    }
    joined, left = [], []
    for team in mapped:
        membership = current.get(team.pk)
        if team.oidc_group in wanted and membership is None:
            membership = TeamMembership.objects.create(team=team, user=user, role=TeamRole.MEMBER)
            audit_event_record(
                event_type=AuditEventType.CONFIG_CREATED,
                actor=None,
                actor_repr=OIDC_ACTOR,
                subject=_membership_subject(membership),
                after={
                    "team": team.slug,
                    "user": user.get_username(),
                    "role": membership.role,
                    "group": team.oidc_group,
                },
            )
            joined.append(team.slug)
        elif team.oidc_group not in wanted and membership is not None:
            subject = _membership_subject(membership)
            membership.delete()
            audit_event_record(
                event_type=AuditEventType.CONFIG_DELETED,
                actor=None,
                actor_repr=OIDC_ACTOR,
                subject=subject,
                before={"team": team.slug, "user": user.get_username(), "role": membership.role},
                message=f"No longer in group {team.oidc_group}.",
            )
            left.append(team.slug)
    return joined, left
