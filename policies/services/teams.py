"""Writes on teams (platform configuration); memberships: `services.memberships`."""

from typing import Any

from django.db import transaction

from policies.actors import Actor
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import Team
from policies.permissions import can_manage_teams
from policies.services.config import config_create, config_delete, config_update

# Fields an admin may set; webhook_secret is write-only and redacted in the audit log.
TEAM_FIELDS = ("name", "description", "email", "webhook_url", "webhook_secret", "oidc_group")


def _checked(actor: Actor, fields: dict[str, Any]) -> None:
    if actor is not None and not can_manage_teams(actor):
        raise PermissionDenied("Only platform admins can change teams.")
    unknown = set(fields) - set(TEAM_FIELDS)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], "Unknown team setting.")


@transaction.atomic
def team_create(*, actor: Actor, slug: str, **fields: Any) -> Team:
    """Register a team; members and approvers are added with `team_membership_create` (the admin's
    team page) or through OIDC groups. `actor=None` is the operator on the command line."""
    _checked(actor, fields)
    return config_create(actor=actor, model=Team, fields={"slug": slug, **fields}, allowed=("slug", *TEAM_FIELDS))


@transaction.atomic
def team_update(*, team: Team, actor: Actor, **fields: Any) -> Team:
    """Change a team's settings. The slug is fixed (it names the team in URLs, filters and rules);
    an empty webhook_secret keeps the stored one, like every write-only secret."""
    _checked(actor, fields)
    if fields.get("webhook_secret", "") in (None, ""):
        fields.pop("webhook_secret", None)
    return config_update(actor=actor, instance=team, fields=fields, allowed=TEAM_FIELDS)


@transaction.atomic
def team_delete(*, team: Team, actor: Actor) -> None:
    """Remove a team with its memberships; a team that still owns namespaces, requests or grants is
    refused (they would lose their owner)."""
    _checked(actor, {})
    config_delete(actor=actor, instance=team, fields=("slug", *TEAM_FIELDS))
