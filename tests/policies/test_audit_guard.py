"""The audit guard (tests/support/audit_guard.py) catches what it is for, and nothing else."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from policies.choices import AuditEventType, TeamRole
from policies.models import DomainList, TeamMembership
from policies.services.audit import audit_event_record
from policies.services.memberships import team_membership_create
from tests.support.audit_guard import guard, unaudited_writes

HERE = "tests/policies/test_audit_guard.py"
# The guard is driven by hand here, so the autouse fixture must not judge these tests.
pytestmark = [pytest.mark.django_db, pytest.mark.unaudited_writes("these tests drive the guard themselves")]


def _found(checked) -> list[str]:
    return [re.sub(r"\.py:\d+", ".py:N", violation) for violation in checked.violations]


@pytest.fixture
def checked():
    guard.start()
    yield guard
    guard.finish()


class AuditGuardTests:
    def test_an_unaudited_write_in_a_transaction_is_caught_at_commit(self, world, checked):
        with transaction.atomic():
            TeamMembership.objects.create(team=world.search, user=world.dev, role=TeamRole.APPROVER)
            assert _found(checked) == []  # judged when the transaction commits
        assert _found(checked) == [f"committed without an AuditEvent: policies.TeamMembership created at {HERE}:N"]

    def test_a_write_outside_any_transaction_is_caught(self, world, checked):
        DomainList.objects.create(name="raw")
        assert _found(checked) == [
            f"policies.DomainList created at {HERE}:N outside a transaction (no AuditEvent can share it)"
        ]

    def test_platform_admin_group_membership_is_caught(self, world, checked):
        admins, _ = Group.objects.get_or_create(name=settings.EGRESSUI_ADMIN_GROUP)
        other, _ = Group.objects.get_or_create(name="readers")
        world.dev.groups.add(other)  # not the platform-admin group: not guarded
        assert _found(checked) == []
        world.dev.groups.add(admins)
        assert _found(checked) == [  # .add() commits in its own (savepoint-less) transaction
            f"committed without an AuditEvent: {settings.EGRESSUI_ADMIN_GROUP} group membership (post_add) at {HERE}:N"
        ]

    def test_a_service_that_audits_passes(self, world, checked):
        team_membership_create(actor=world.admin, team=world.search, user=world.dev, role=TeamRole.MEMBER)
        with transaction.atomic():
            DomainList.objects.create(name="audited")
            audit_event_record(event_type=AuditEventType.CONFIG_CREATED, subject=("domainlist", 1, "audited"))
        assert _found(checked) == []

    def test_rolled_back_writes_and_allowed_fixtures_pass(self, world, checked):
        with pytest.raises(RuntimeError), transaction.atomic():
            DomainList.objects.create(name="rolled back")
            raise RuntimeError
        with transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                DomainList.objects.create(name="savepoint rolled back")
                raise RuntimeError
        with unaudited_writes("a fixture"):
            DomainList.objects.create(name="fixture")
        assert _found(checked) == []

    def test_an_audit_event_rolled_back_with_its_savepoint_does_not_count(self, world, checked):
        with transaction.atomic():
            DomainList.objects.create(name="kept")
            with pytest.raises(RuntimeError), transaction.atomic():
                audit_event_record(event_type=AuditEventType.CONFIG_CREATED, subject=("domainlist", 1, "x"))
                raise RuntimeError
        assert _found(checked) == [f"committed without an AuditEvent: policies.DomainList created at {HERE}:N"]

    def test_a_reason_is_required(self):
        with pytest.raises(ValueError), unaudited_writes(""):
            pass
