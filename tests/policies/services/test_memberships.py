import pytest

from policies.choices import AuditEventType, TeamRole
from policies.models import AuditEvent, TeamMembership
from policies.services.memberships import team_memberships_sync_from_groups
from tests.factories import TeamFactory, UserFactory, fixture_save


@pytest.mark.django_db
class MembershipSyncTests:
    def test_joins_mapped_teams_and_leaves_the_others(self, world):
        world.payments.oidc_group = "grp-payments"
        fixture_save(world.payments)
        world.search.oidc_group = "grp-search"
        fixture_save(world.search)
        user = UserFactory(username="sso-user")
        joined, left = team_memberships_sync_from_groups(user=user, groups=["grp-payments", "unrelated"])
        assert (joined, left) == (["payments"], [])
        assert TeamMembership.objects.get(user=user).role == TeamRole.MEMBER
        joined, left = team_memberships_sync_from_groups(user=user, groups=["grp-search"])
        assert (joined, left) == (["search"], ["payments"])
        assert list(TeamMembership.objects.filter(user=user).values_list("team__slug", flat=True)) == ["search"]
        events = AuditEvent.objects.filter(actor_repr="oidc").order_by("seq")
        assert [e.event_type for e in events] == [
            AuditEventType.CONFIG_CREATED,
            AuditEventType.CONFIG_DELETED,
            AuditEventType.CONFIG_CREATED,
        ]
        assert events[1].message == "No longer in group grp-payments."

    def test_teams_without_a_group_and_existing_roles_are_left_alone(self, world):
        world.payments.oidc_group = "grp-payments"
        fixture_save(world.payments)
        TeamFactory(slug="handmade")
        joined, left = team_memberships_sync_from_groups(user=world.lead, groups=["grp-payments"])
        assert (joined, left) == ([], [])
        assert TeamMembership.objects.get(user=world.lead, team=world.payments).role == TeamRole.APPROVER
        assert not AuditEvent.objects.filter(actor_repr="oidc").exists()
