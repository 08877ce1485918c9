"""Writes on teams (platform configuration). Memberships stay in the Django admin for now."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import Team
from policies.permissions import can_manage_teams
from policies.services.audit import audit_event_record

# Fields an admin may set; webhook_secret is write-only and redacted in the audit log.
TEAM_FIELDS = ("name", "description", "email", "webhook_url", "webhook_secret", "oidc_group")


def team_snapshot(team: Team) -> dict:
    return {"slug": team.slug, **{field: getattr(team, field) for field in TEAM_FIELDS}}


def _full_clean(team: Team) -> None:
    try:
        team.full_clean()
    except DjangoValidationError as exc:
        fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields) from None


def _checked(actor, fields: dict) -> None:
    if not can_manage_teams(actor):
        raise PermissionDenied("Only platform admins can change teams.")
    unknown = set(fields) - set(TEAM_FIELDS)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "Unknown team setting.")


@transaction.atomic
def team_create(*, actor, slug: str, **fields) -> Team:
    """Register a team; members and approvers are added in the admin (or through OIDC groups)."""
    _checked(actor, fields)
    team = Team(slug=slug, **fields)
    _full_clean(team)
    team.save()
    audit_event_record(event_type=AuditEventType.CONFIG_CREATED, actor=actor, subject=team, after=team_snapshot(team))
    return team


@transaction.atomic
def team_update(*, team: Team, actor, **fields) -> Team:
    """Change a team's settings. The slug is fixed (it names the team in URLs, filters and rules);
    an empty webhook_secret keeps the stored one, like every write-only secret."""
    _checked(actor, fields)
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = team_snapshot(team)
    for field, value in fields.items():
        if field == "webhook_secret" and value in (None, ""):
            continue
        setattr(team, field, value)
    _full_clean(team)
    after = team_snapshot(team)
    changed = sorted(field for field in after if after[field] != before[field])
    if not changed:
        return team
    team.save()
    audit_event_record(
        event_type=AuditEventType.CONFIG_UPDATED,
        actor=actor,
        subject=team,
        before={field: before[field] for field in changed},
        after={field: after[field] for field in changed},
    )
    return team
