"""The permission functions the UI and the API share."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from policies import permissions
from policies.choices import Environment, RuleOutcome
from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create
from policies.services.users import user_update
from tests.factories import ApprovalRuleFactory, ApprovalRuleStepFactory, GrantFactory, UserFactory, fixture_save
from tests.support.audit_guard import unaudited_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_step_request(world):
    rule = ApprovalRuleFactory(environments=[Environment.PROD], outcome=RuleOutcome.REQUIRE_STEPS)
    ApprovalRuleStepFactory(rule=rule, position=1, name="Team", team=None)
    ApprovalRuleStepFactory(rule=rule, position=2, name="Security", team=world.security)
    world.cluster.environment = Environment.PROD
    fixture_save(world.cluster)
    return egress_request_create(requester=world.dev, data=world.request_input(), submit=True)


def _fresh(user):
    """A new instance: permission caches live on the user object for one request."""
    return type(user).objects.get(pk=user.pk)


class RequestVisibilityTests:
    def test_matrix(self, world, two_step_request):
        request = two_step_request
        expected = {
            world.admin: True,
            world.dev: True,  # requester, member
            world.lead: True,  # approver of the team
            world.secops: True,  # security has a step on it
            world.searcher: False,  # another team
        }
        for user, visible in expected.items():
            user = _fresh(user)
            assert permissions.can_view_request(user, request) is visible, user
            assert permissions.visible_requests(user).filter(pk=request.pk).exists() is visible, user
        assert not permissions.visible_requests(AnonymousUser()).exists()

    def test_admin_group_members_are_platform_admins(self, world, settings):
        user = UserFactory(username="ops")
        assert not permissions.is_platform_admin(_fresh(user))
        with unaudited_writes("state set up directly by the test"):
            user.groups.add(Group.objects.create(name=settings.EGRESSUI_ADMIN_GROUP))
        assert permissions.is_platform_admin(_fresh(user))
        user_update(user=user, actor=None, is_active=False)
        assert not permissions.is_platform_admin(_fresh(user))


class ApprovalPermissionTests:
    def test_who_may_act_on_each_step(self, world, two_step_request):
        request = two_step_request
        assert permissions.can_approve(_fresh(world.lead), request)
        assert permissions.can_approve(_fresh(world.admin), request)
        for user in (world.dev, world.secops, world.searcher):
            assert not permissions.can_approve(_fresh(user), request), user
        egress_request_approve(request=request, approver=world.lead)
        assert permissions.can_approve(_fresh(world.secops), request)
        assert not permissions.can_approve(_fresh(world.lead), request)
        assert not permissions.can_approve(_fresh(world.lead2), request)

    def test_inbox_lists_only_actionable_steps(self, world, two_step_request):
        assert permissions.steps_awaiting(_fresh(world.lead)).count() == 1
        assert permissions.steps_awaiting(_fresh(world.secops)).count() == 0
        assert permissions.steps_awaiting(_fresh(world.dev)).count() == 0
        own = egress_request_create(requester=world.lead, data=world.request_input(), submit=True)
        assert not permissions.steps_awaiting(_fresh(world.lead)).filter(request=own).exists()


class GrantPermissionTests:
    def test_matrix(self, world):
        grant = GrantFactory(identity=world.checkout)
        rows = {
            world.admin: (True, True, True),
            world.lead: (True, True, True),
            world.dev: (True, False, True),
            world.secops: (False, False, False),
            world.searcher: (False, False, False),
        }
        for user, (view, revoke, renew) in rows.items():
            user = _fresh(user)
            assert permissions.can_view_grant(user, grant) is view, user
            assert permissions.visible_grants(user).filter(pk=grant.pk).exists() is view, user
            assert permissions.can_revoke_grant(user, grant) is revoke, user
            assert permissions.can_renew_grant(user, grant) is renew, user

    def test_approvers_asked_on_a_request_see_its_grants_and_nothing_more(self, world, two_step_request):
        egress_request_approve(request=two_step_request, approver=world.lead)
        egress_request_approve(request=two_step_request, approver=world.secops)
        [grant] = two_step_request.grants.all()
        other = GrantFactory(identity=world.refunds)  # a payments grant security was never asked about
        secops = _fresh(world.secops)
        assert permissions.can_view_grant(secops, grant)
        assert list(permissions.visible_grants(secops)) == [grant]
        assert not permissions.can_view_grant(secops, other)
        assert not permissions.can_revoke_grant(secops, grant)
        assert not permissions.can_renew_grant(secops, grant)
        searcher = _fresh(world.searcher)
        assert not permissions.can_view_grant(searcher, grant)
        assert not permissions.visible_grants(searcher).exists()
        assert not permissions.visible_grants(AnonymousUser()).exists()

    def test_identity_and_cluster_rights(self, world):
        assert permissions.can_request_for_identity(_fresh(world.dev), world.checkout)
        assert not permissions.can_request_for_identity(_fresh(world.dev), world.indexer)
        assert permissions.can_manage_clusters(_fresh(world.admin))
        assert not permissions.can_manage_clusters(_fresh(world.lead))
        assert not permissions.can_break_glass(_fresh(world.lead))
