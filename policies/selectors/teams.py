from django.db.models import Prefetch, QuerySet

from policies.models import Team, TeamMembership


def team_list() -> QuerySet[Team]:
    memberships = TeamMembership.objects.select_related("user").order_by("user__username", "id")
    return Team.objects.prefetch_related(Prefetch("memberships", queryset=memberships)).order_by("slug", "id")
