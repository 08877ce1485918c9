from django.db.models import Prefetch, QuerySet

from policies.actors import Viewer
from policies.models import Team, TeamMembership
from policies.permissions import is_platform_admin, member_team_ids


def team_list() -> QuerySet[Team]:
    memberships = TeamMembership.objects.select_related("user").order_by("user__username", "id")
    return Team.objects.prefetch_related(Prefetch("memberships", queryset=memberships)).order_by("slug", "id")


def team_choices_for(user: Viewer) -> list[tuple[str, str]]:
    """(slug, name) of the teams a filter may narrow to: the user's own (platform admins: all)."""
    teams = Team.objects.order_by("slug")
    if not is_platform_admin(user):
        teams = teams.filter(pk__in=member_team_ids(user))
    return list(teams.values_list("slug", "name"))
