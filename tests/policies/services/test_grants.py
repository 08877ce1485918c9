"""Grant services: revoke, expire, break-glass, expiry reminders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import AuditEvent, ClusterSyncState, Grant
from policies.services.grants import grant_break_glass, grant_revoke, grants_expire_due, grants_send_expiry_notices
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def _clear_marks():
    ClusterSyncState.objects.update(needs_reconcile=False)


class GrantRevokeTests:
    def test_approver_revokes_with_reason(self, world, django_capture_on_commit_callbacks):
        grant = GrantFactory(identity=world.checkout)
        _clear_marks()
        with django_capture_on_commit_callbacks() as callbacks:
            grant_revoke(grant=grant, actor=world.lead, reason="Contract ended.")
        grant.refresh_from_db()
        assert (grant.status, grant.ended_by, grant.end_reason) == (GrantStatus.REVOKED, world.lead, "Contract ended.")
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        event = AuditEvent.objects.get(event_type=AuditEventType.GRANT_REVOKED)
        assert event.before["status"] == "active" and event.after["status"] == "revoked"
        assert event.cluster_id == world.cluster.pk
        assert callbacks

    def test_members_of_the_team_and_strangers_cannot_revoke(self, world):
        grant = GrantFactory(identity=world.checkout)
        for user in (world.dev, world.searcher, world.secops):
            with pytest.raises(PermissionDenied):
                grant_revoke(grant=grant, actor=user, reason="x")
        grant_revoke(grant=grant, actor=world.admin, reason="incident")

    def test_reason_required_and_only_active_grants(self, world):
        grant = GrantFactory(identity=world.checkout)
        with pytest.raises(ValidationFailed) as caught:
            grant_revoke(grant=grant, actor=world.lead, reason="  ")
        assert "reason" in caught.value.fields
        grant.refresh_from_db()
        assert grant.status == GrantStatus.ACTIVE
        grant_revoke(grant=grant, actor=world.lead, reason="done")
        with pytest.raises(TransitionNotAllowed):
            grant_revoke(grant=grant, actor=world.lead, reason="again")


class GrantsExpireTests:
    def test_expires_due_grants_only(self, world):
        now = timezone.now()
        due = GrantFactory(
            identity=world.checkout, valid_from=now - timedelta(days=2), expires_at=now - timedelta(seconds=1)
        )
        later = GrantFactory(identity=world.refunds, valid_from=now, expires_at=now + timedelta(days=1))
        _clear_marks()
        assert grants_expire_due(now=now) == 1
        due.refresh_from_db()
        later.refresh_from_db()
        assert due.status == GrantStatus.EXPIRED and later.status == GrantStatus.ACTIVE
        event = AuditEvent.objects.get(event_type=AuditEventType.GRANT_EXPIRED)
        assert event.actor is None and event.actor_repr == "system"
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        assert grants_expire_due(now=now) == 0

    def test_batches(self, world):
        now = timezone.now()
        for index in range(5):
            GrantFactory(
                identity=world.checkout,
                host=f"h{index}.example.com",
                valid_from=now - timedelta(days=1),
                expires_at=now,
            )
        assert grants_expire_due(now=now, batch_size=2) == 5
        assert not Grant.objects.filter(status=GrantStatus.ACTIVE).exists()


class BreakGlassTests:
    def test_admin_grants_short_access_with_reason(self, world):
        request = grant_break_glass(
            admin=world.admin, data=world.request_input("api.pagerduty.com"), reason="INC-42", duration_hours=4
        )
        assert request.break_glass and request.status == RequestStatus.APPROVED
        grant = request.grants.get()
        assert grant.break_glass
        assert timedelta(hours=3, minutes=59) < grant.expires_at - grant.valid_from <= timedelta(hours=4)
        assert AuditEvent.objects.filter(event_type=AuditEventType.GRANT_BREAK_GLASS, message="INC-42").exists()

    def test_only_admins_and_with_a_reason_and_bounded(self, world, settings):
        settings.EGRESSUI_BREAK_GLASS_MAX_HOURS = 24
        with pytest.raises(PermissionDenied):
            grant_break_glass(admin=world.lead, data=world.request_input(), reason="x", duration_hours=1)
        with pytest.raises(ValidationFailed) as caught:
            grant_break_glass(admin=world.admin, data=world.request_input(), reason="", duration_hours=1)
        assert "reason" in caught.value.fields
        with pytest.raises(ValidationFailed) as caught:
            grant_break_glass(admin=world.admin, data=world.request_input(), reason="x", duration_hours=25)
        assert "duration_hours" in caught.value.fields
        assert not Grant.objects.exists()


class ExpiryNoticeTests:
    def test_each_threshold_once(self, world, settings, django_capture_on_commit_callbacks):
        settings.EGRESSUI_EXPIRY_NOTICE_DAYS = [7, 1]
        now = timezone.now()
        grant = GrantFactory(
            identity=world.checkout, valid_from=now - timedelta(days=20), expires_at=now + timedelta(days=6)
        )
        GrantFactory(identity=world.refunds, valid_from=now, expires_at=now + timedelta(days=30))
        with django_capture_on_commit_callbacks() as callbacks:
            assert grants_send_expiry_notices(now=now) == 1
        assert len(callbacks) == 1
        assert grants_send_expiry_notices(now=now) == 0
        assert grants_send_expiry_notices(now=now + timedelta(days=5, hours=12)) == 1
        grant.refresh_from_db()
        assert grant.expiry_notices_sent == [1, 7]
