"""Every admin write path calls a service: the change is audited with its real before/after in the
same transaction, and a change the service refuses leaves nothing behind."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from policies.choices import AuditEventType, RuleOutcome, TeamRole
from policies.models import ApprovalRule, ApprovalRuleStep, AuditEvent, Cluster, Team, TeamMembership
from tests.factories import (
    ApprovalRuleFactory,
    ApprovalRuleStepFactory,
    ClusterFactory,
    GrantFactory,
    TeamFactory,
    UserFactory,
)
from tests.policies.admin_forms import admin_form_data, inline_prefix
from tests.support.audit_guard import unaudited_writes

pytestmark = pytest.mark.django_db


def _event(event_type, subject_type, **filters):
    return AuditEvent.objects.get(event_type=event_type, subject_type=subject_type, **filters)


@pytest.fixture
def group_admin(world):
    """A platform admin through the group (staff, not superuser)."""
    user = UserFactory(username="group-admin", is_staff=True)
    with unaudited_writes("state set up directly by the test"):
        user.groups.add(Group.objects.get_or_create(name=settings.EGRESSUI_ADMIN_GROUP)[0])
    return user


class TeamInlineTests:
    def _page(self, client, world):
        url = f"/admin/policies/team/{world.payments.pk}/change/"
        page = client.get(url)
        return url, page, admin_form_data(page), inline_prefix(page, "teammembership")

    def test_making_someone_an_approver_is_audited(self, client, world):
        client.force_login(world.admin)
        url, page, data, prefix = self._page(client, world)
        index = next(i for i in range(3) if data[f"{prefix}-{i}-user"] == str(world.dev.pk))
        data[f"{prefix}-{index}-role"] = TeamRole.APPROVER
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert TeamMembership.objects.get(team=world.payments, user=world.dev).role == TeamRole.APPROVER
        event = _event(AuditEventType.CONFIG_UPDATED, "teammembership")
        assert (event.actor, event.before, event.after) == (world.admin, {"role": "member"}, {"role": "approver"})

    def test_adding_and_removing_members_is_audited(self, client, world):
        client.force_login(world.admin)
        url, page, data, prefix = self._page(client, world)
        newcomer = UserFactory(username="newcomer")
        extra = int(data[f"{prefix}-TOTAL_FORMS"]) - 1  # the empty extra row
        data[f"{prefix}-{extra}-user"] = str(newcomer.pk)
        data[f"{prefix}-{extra}-role"] = TeamRole.APPROVER
        leaving = next(i for i in range(extra) if data[f"{prefix}-{i}-user"] == str(world.lead2.pk))
        data[f"{prefix}-{leaving}-DELETE"] = "on"
        assert client.post(url, data).status_code == 302
        assert TeamMembership.objects.get(user=newcomer).role == TeamRole.APPROVER
        assert not TeamMembership.objects.filter(user=world.lead2).exists()
        created = _event(AuditEventType.CONFIG_CREATED, "teammembership")
        assert created.after == {"team": "payments", "user": "newcomer", "role": "approver"}
        deleted = _event(AuditEventType.CONFIG_DELETED, "teammembership")
        assert deleted.before == {"team": "payments", "user": "payments-lead2", "role": "approver"}

    def test_a_refused_row_rolls_back_the_whole_page(self, client, world):
        client.force_login(world.admin)
        url, page, data, prefix = self._page(client, world)
        data["name"] = "Payments renamed"
        index = next(i for i in range(3) if data[f"{prefix}-{i}-user"] == str(world.dev.pk))
        data[f"{prefix}-{index}-role"] = "owner"  # not a role: the form refuses it
        response = client.post(url, data)
        assert response.status_code == 200  # the form again, with the error
        assert Team.objects.get(pk=world.payments.pk).name != "Payments renamed"
        assert not AuditEvent.objects.exists()

    def test_a_team_that_owns_namespaces_is_not_deleted(self, client, world):
        client.force_login(world.admin)
        response = client.post(f"/admin/policies/team/{world.payments.pk}/delete/", {"post": "yes"}, follow=True)
        assert Team.objects.filter(pk=world.payments.pk).exists()
        assert not AuditEvent.objects.exists()
        assert "Cannot delete" in response.content.decode()


class RuleStepInlineTests:
    def test_step_create_update_delete_are_audited(self, client, world):
        rule = ApprovalRuleFactory(name="prod", outcome=RuleOutcome.REQUIRE_STEPS)
        kept = ApprovalRuleStepFactory(rule=rule, position=1, name="Team lead")
        dropped = ApprovalRuleStepFactory(rule=rule, position=2, name="Legal")
        client.force_login(world.admin)
        url = f"/admin/policies/approvalrule/{rule.pk}/change/"
        page = client.get(url)
        data, prefix = admin_form_data(page), inline_prefix(page, "approvalrulestep")
        rows = {data[f"{prefix}-{i}-id"]: i for i in range(2)}
        data[f"{prefix}-{rows[str(kept.pk)]}-required_approvals"] = "2"
        data[f"{prefix}-{rows[str(dropped.pk)]}-DELETE"] = "on"
        data.update(
            {f"{prefix}-2-position": "3", f"{prefix}-2-name": "Security", f"{prefix}-2-team": world.security.pk}
        )
        data[f"{prefix}-2-required_approvals"] = "1"
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert sorted(ApprovalRuleStep.objects.values_list("name", "required_approvals")) == [
            ("Security", 1),
            ("Team lead", 2),
        ]
        updated = _event(AuditEventType.CONFIG_UPDATED, "approvalrulestep")
        assert (updated.before, updated.after) == ({"required_approvals": 1}, {"required_approvals": 2})
        assert _event(AuditEventType.CONFIG_DELETED, "approvalrulestep").before["name"] == "Legal"
        created = _event(AuditEventType.CONFIG_CREATED, "approvalrulestep")
        assert created.after == {
            "rule": "prod",
            "position": 3,
            "name": "Security",
            "team": "security",
            "required_approvals": 1,
        }

    def test_list_edit_of_priorities_is_audited(self, client, world):
        rule = ApprovalRuleFactory(name="r1", priority=10, outcome=RuleOutcome.DENY)
        client.force_login(world.admin)
        data = {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(rule.pk),
            "form-0-priority": "5",
            "form-0-enabled": "on",
            "_save": "Save",
        }
        assert client.post("/admin/policies/approvalrule/", data).status_code == 302
        event = _event(AuditEventType.CONFIG_UPDATED, "approvalrule")
        assert (event.before, event.after) == ({"priority": 10}, {"priority": 5})

    def test_delete_selected_rules_is_audited_per_rule(self, client, world):
        rules = [ApprovalRuleFactory(name=f"rule-{n}", outcome=RuleOutcome.DENY) for n in range(2)]
        ApprovalRuleStepFactory(rule=rules[0])
        client.force_login(world.admin)
        data = {"action": "delete_selected", "_selected_action": [r.pk for r in rules], "post": "yes"}
        assert client.post("/admin/policies/approvalrule/", data).status_code == 302
        assert not ApprovalRule.objects.exists()
        deleted = AuditEvent.objects.filter(event_type=AuditEventType.CONFIG_DELETED)
        assert sorted(deleted.values_list("subject_type", flat=True)) == [
            "approvalrule",
            "approvalrule",
            "approvalrulestep",
        ]


class ClusterDeletionTests:
    def test_delete_selected_clusters_is_audited_and_refused_as_a_whole(self, client, world):
        spare = ClusterFactory(name="spare")
        GrantFactory(identity=world.checkout)
        client.force_login(world.admin)
        both = {"action": "delete_selected", "_selected_action": [spare.pk, world.cluster.pk], "post": "yes"}
        response = client.post("/admin/policies/cluster/", both, follow=True)
        assert "Cannot delete cluster" in response.content.decode()  # its grants protect it
        assert Cluster.objects.filter(pk=spare.pk).exists()  # the refusal rolled the whole selection back
        assert not AuditEvent.objects.exists()
        one = {**both, "_selected_action": [spare.pk]}
        assert client.post("/admin/policies/cluster/", one).status_code == 302
        assert not Cluster.objects.filter(pk=spare.pk).exists()
        event = _event(AuditEventType.CLUSTER_DELETED, "cluster")
        assert (event.actor, event.subject_repr, event.before["name"]) == (world.admin, "spare", "spare")
        assert event.before["connection_kind"] == "directory"


class AccountAdminTests:
    def _change(self, client, user, **changes):
        url = f"/admin/auth/user/{user.pk}/change/"
        data = admin_form_data(client.get(url))
        for key, value in changes.items():
            if value is False:
                data.pop(key, None)
            else:
                data[key] = value
        return client.post(url, data, follow=True)

    def test_platform_admin_group_membership_is_audited(self, client, world, group_admin):
        client.force_login(group_admin)
        admins = Group.objects.get(name=settings.EGRESSUI_ADMIN_GROUP)
        self._change(client, world.lead, groups=[str(admins.pk)], is_staff="on")
        world.lead.refresh_from_db()
        assert world.lead.is_staff and world.lead.groups.filter(pk=admins.pk).exists()
        flags = _event(AuditEventType.ACCOUNT_UPDATED, "user")
        assert (flags.actor, flags.before, flags.after) == (group_admin, {"is_staff": False}, {"is_staff": True})
        groups = _event(AuditEventType.ACCOUNT_GROUPS_CHANGED, "user")
        assert (groups.before, groups.after) == ({"groups": []}, {"groups": [settings.EGRESSUI_ADMIN_GROUP]})

    def test_a_group_admin_cannot_grant_superuser(self, client, world, group_admin):
        client.force_login(group_admin)
        response = self._change(client, world.lead, is_superuser="on", first_name="Lee")
        assert "Only superusers can grant" in response.content.decode()
        world.lead.refresh_from_db()
        assert not world.lead.is_superuser and world.lead.first_name != "Lee"
        assert not AuditEvent.objects.exists()

    def test_nobody_removes_their_own_admin_access(self, client, world, group_admin):
        client.force_login(group_admin)
        response = self._change(client, group_admin, groups=[])
        assert "You cannot remove your own admin access" in response.content.decode()
        assert group_admin.groups.filter(name=settings.EGRESSUI_ADMIN_GROUP).exists()
        assert not AuditEvent.objects.exists()

    def test_the_platform_admin_group_cannot_be_renamed(self, client, world, group_admin):
        admins = Group.objects.get(name=settings.EGRESSUI_ADMIN_GROUP)
        client.force_login(world.admin)
        response = client.post(f"/admin/auth/group/{admins.pk}/change/", {"name": "renamed"}, follow=True)
        assert "cannot be renamed or deleted" in response.content.decode()
        assert Group.objects.filter(name=settings.EGRESSUI_ADMIN_GROUP).exists()
        assert not AuditEvent.objects.exists()

    def test_users_are_created_through_the_service(self, client, world):
        client.force_login(world.admin)
        data = {
            "username": "new-person",
            "usable_password": "true",
            "password1": "A-long-pw-123",
            "password2": "A-long-pw-123",
        }
        response = client.post("/admin/auth/user/add/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        event = _event(AuditEventType.ACCOUNT_CREATED, "user")
        assert event.after["username"] == "new-person" and "password" not in event.after

    def _set_password(self, client, user, **data):
        return client.post(f"/admin/auth/user/{user.pk}/password/", data, follow=True)

    def test_setting_a_password_goes_through_the_service(self, client, world, group_admin):
        client.force_login(group_admin)
        old_hash = world.lead.password
        response = self._set_password(
            client, world.lead, usable_password="true", password1="Another-long-pw-9", password2="Another-long-pw-9"
        )
        assert "Password changed successfully" in response.content.decode()
        world.lead.refresh_from_db()
        assert world.lead.password != old_hash and world.lead.check_password("Another-long-pw-9")
        event = _event(AuditEventType.ACCOUNT_PASSWORD_CHANGED, "user")
        assert event.actor == group_admin and event.subject_id == str(world.lead.pk)
        assert (event.before, event.after) == ({"password_usable": True}, {"password_usable": True})
        assert "Another-long-pw-9" not in str(event.before) + str(event.after) + event.message

    def test_disabling_password_sign_in_is_audited(self, client, world, group_admin):
        client.force_login(group_admin)
        self._set_password(client, world.lead, usable_password="false", **{"unset-password": "1"})
        world.lead.refresh_from_db()
        assert not world.lead.has_usable_password()
        event = _event(AuditEventType.ACCOUNT_PASSWORD_CHANGED, "user")
        assert event.after == {"password_usable": False} and "single sign-on" in event.message

    def test_a_group_admin_cannot_take_over_a_superuser_by_its_password(self, client, world, group_admin):
        boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
        old_hash = boss.password
        client.force_login(group_admin)
        response = self._set_password(
            client, boss, usable_password="true", password1="Takeover-pw-123", password2="Takeover-pw-123"
        )
        assert "Only superusers can grant or withdraw superuser status" in response.content.decode()
        boss.refresh_from_db()
        assert boss.password == old_hash
        assert not AuditEvent.objects.filter(event_type=AuditEventType.ACCOUNT_PASSWORD_CHANGED).exists()


class ServiceRefusalTests:
    def test_cluster_delete_refuses_a_cluster_with_grants(self, world):
        from policies.exceptions import ValidationFailed
        from policies.services.clusters import cluster_delete

        GrantFactory(identity=world.checkout)
        with pytest.raises(ValidationFailed, match="has grants"):
            cluster_delete(cluster=world.cluster, actor=world.admin)
        assert Cluster.objects.filter(pk=world.cluster.pk).exists()

    def test_bulk_delete_is_all_or_nothing(self, world):
        from policies.exceptions import ValidationFailed
        from policies.services.config import objects_delete
        from policies.services.teams import team_delete

        empty = TeamFactory(slug="empty")
        with pytest.raises(ValidationFailed, match="Cannot delete payments"):
            objects_delete(objects=[empty, world.payments], delete=lambda t: team_delete(team=t, actor=world.admin))
        assert Team.objects.filter(slug="empty").exists() and not AuditEvent.objects.exists()

    @pytest.mark.parametrize("who", ["lead", "dev"])
    def test_non_admins_are_refused_by_every_config_service(self, world, who):
        from policies.exceptions import PermissionDenied
        from policies.services.memberships import team_membership_create
        from policies.services.rules import approval_rule_create, domain_list_create
        from policies.services.users import platform_admin_set

        actor = getattr(world, who)
        calls = [
            lambda: team_membership_create(actor=actor, team=world.payments, user=world.searcher, role="approver"),
            lambda: approval_rule_create(actor=actor, name="x", outcome=RuleOutcome.DENY),
            lambda: domain_list_create(actor=actor, name="x"),
            lambda: platform_admin_set(user=actor, actor=actor, admin=True),
        ]
        for call in calls:
            with pytest.raises(PermissionDenied):
                call()
        assert not AuditEvent.objects.exists()
